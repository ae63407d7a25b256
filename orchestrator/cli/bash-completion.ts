/**
 * The bash completion script for tmpl and tmpl-install, generated from the same tables as
 * `--help` and the man pages (docs-tables.ts): commands, each command's options and the global
 * ones, and the values of options whose metavar says what they take (FILE, DIR, A|B|C).
 */
import type { OptionSpec } from './arguments.ts';
import { cliTables, commandUsage, type DocsTables } from './docs-tables.ts';

/** A bash word: only the characters option names, metavars and command names use. */
function word(text: string): string {
  if (!/^[A-Za-z0-9_.=-]+$/.test(text)) throw new Error(`not a plain word for the completion: ${text}`);
  return text;
}

/** How the value of an option completes, from its metavar. */
function valueCompletion(spec: OptionSpec): string {
  const metavar = spec.metavar ?? '';
  if (metavar === 'FILE') return '_tmpl_files file "$cur"';
  if (metavar === 'DIR') return '_tmpl_files dir "$cur"';
  if (metavar.includes('|')) return `_tmpl_words '${metavar.split('|').map(word).join(' ')}' "$cur"`;
  return 'COMPREPLY=()';
}

function optionWords(specs: readonly OptionSpec[]): string {
  return specs.flatMap((s) => [...(s.short ? [`-${word(s.short)}`] : []), `--${word(s.name)}`]).join(' ');
}

/** `case "$command:$option"` arms completing option values: global options first, as the parser (arguments.ts) looks them up. */
function valueCases(tables: DocsTables): string[] {
  const cases: string[] = [];
  const addCases = (scope: string, specs: readonly OptionSpec[]): void => {
    for (const spec of specs) {
      if (spec.kind === 'flag') continue;
      const patterns = [`--${word(spec.name)}`, ...(spec.short ? [`-${word(spec.short)}`] : [])].map(
        (p) => `${scope}:${p}`,
      );
      const guard = spec.kind === 'optional' ? '[[ $separate == 1 ]] && return 1; ' : '';
      cases.push(`    ${patterns.join('|')}) ${guard}${valueCompletion(spec)} ;;`);
    }
  };
  addCases('*', tables.globalOptions);
  for (const c of tables.commands) addCases(word(c.name), c.options ?? []);
  return cases;
}

/** The helpers that complete file names, directory names and fixed words. */
const FILE_AND_WORD_HELPERS = `_tmpl_files() {
  # $1: file or dir; $2: the word so far.
  compopt -o filenames 2>/dev/null
  if [[ $1 == dir ]]; then
    mapfile -t COMPREPLY < <(compgen -d -- "$2")
  else
    mapfile -t COMPREPLY < <(compgen -f -- "$2")
  fi
}

_tmpl_words() {
  mapfile -t COMPREPLY < <(compgen -W "$1" -- "$2")
}`;

/** `_tmpl_option_value`: completes an option's value, or returns 1 when it takes none. */
function optionValueFunction(tables: DocsTables): string {
  return `# Completes the value of option $2 of command $1 (may be empty) into COMPREPLY; returns 1 when
# the option takes no value. $3 is 1 when the value is a separate word (--opt VALUE), which an
# option whose value is optional (--opt[=VALUE]) never takes.
_tmpl_option_value() {
  local command=$1 option=$2 separate=$3
  case "$command:$option" in
${valueCases(tables).join('\n')}
    *) return 1 ;;
  esac
  return 0
}`;
}

/** `_tmpl_option_words`: the global options and the command's own. */
function optionWordsFunction(tables: DocsTables): string {
  const commandOptions = tables.commands
    .filter((c) => (c.options ?? []).length > 0)
    .map((c) => `    ${word(c.name)}) words+=' ${optionWords(c.options ?? [])}' ;;`);
  return `_tmpl_option_words() {
  local words='${optionWords(tables.globalOptions)}'
  case $1 in
${commandOptions.join('\n')}
  esac
  printf '%s' "$words"
}`;
}

/**
 * `_tmpl_complete`: finds the command and the option being completed on the line, then
 * completes an option's value, an option, a command name or (for commands taking PKG.rpm) a file.
 */
function completeFunction(tables: DocsTables): string {
  const names = tables.commands.map((c) => word(c.name));
  const takesFiles = tables.commands.filter((c) => /\.rpm\b/.test(commandUsage(c))).map((c) => word(c.name));
  return `# $1: the command when the program fixes it (tmpl-install), else empty.
_tmpl_complete() {
  local command=$1 cur=\${COMP_WORDS[COMP_CWORD]} option='' prefix='' only_args=0 i=1 word
  COMPREPLY=()
  # The command: the first word that is neither an option nor an option's value.
  while ((i < COMP_CWORD)); do
    word=\${COMP_WORDS[i]}
    if [[ \${COMP_WORDS[i + 1]-} == = ]]; then
      # --opt=VALUE, split into three words at the '=' of COMP_WORDBREAKS.
      ((i += 3))
      continue
    fi
    if ((only_args == 0)) && [[ $word == -- ]]; then
      only_args=1
    elif ((only_args == 0)) && [[ $word == -* ]]; then
      [[ $word != *=* ]] && _tmpl_option_value "$command" "$word" 1 && ((i++))
    elif [[ -z $command ]]; then
      command=$word
    fi
    ((i++))
  done
  COMPREPLY=()
  if ((only_args == 0)); then
    if [[ $cur == = && $COMP_CWORD -ge 2 ]]; then
      option=\${COMP_WORDS[COMP_CWORD - 1]}
      cur=''
    elif ((COMP_CWORD >= 3)) && [[ \${COMP_WORDS[COMP_CWORD - 1]} == = ]]; then
      option=\${COMP_WORDS[COMP_CWORD - 2]}
    elif [[ $cur == --*=* ]]; then
      option=\${cur%%=*}
      prefix="$option="
      cur=\${cur#*=}
    fi
    if [[ -n $option ]]; then
      _tmpl_option_value "$command" "$option" 0 || COMPREPLY=()
      if [[ -n $prefix ]]; then COMPREPLY=("\${COMPREPLY[@]/#/$prefix}"); fi
      return 0
    fi
    if ((COMP_CWORD >= 2)) && [[ \${COMP_WORDS[COMP_CWORD - 1]} == -* && \${COMP_WORDS[COMP_CWORD - 1]} != *=* ]]; then
      _tmpl_option_value "$command" "\${COMP_WORDS[COMP_CWORD - 1]}" 1 && return 0
    fi
    if [[ $cur == -* ]]; then
      _tmpl_words "$(_tmpl_option_words "$command")" "$cur"
      return 0
    fi
  fi
  if [[ -z $command ]]; then
    _tmpl_words '${names.join(' ')}' "$cur"
    return 0
  fi
  case $command in
    ${takesFiles.length > 0 ? `${takesFiles.join('|')}) _tmpl_files file "$cur" ;;` : ''}
  esac
  return 0
}`;
}

/**
 * The completion script for tmpl and tmpl-install: commands, each command's options and the
 * global ones, and the values of options whose metavar says what they take.
 */
export function bashCompletion(tables: DocsTables = cliTables()): string {
  return [
    `# bash completion for tmpl and tmpl-install (tmpl ${tables.version}).
# Generated from tmpl's option tables (orchestrator/cli/docs.ts); do not edit.`,
    FILE_AND_WORD_HELPERS,
    optionValueFunction(tables),
    optionWordsFunction(tables),
    completeFunction(tables),
    `_tmpl() {
  _tmpl_complete ''
}

_tmpl_install() {
  _tmpl_complete install
}

complete -F _tmpl tmpl
complete -F _tmpl_install tmpl-install
`,
  ].join('\n\n');
}
