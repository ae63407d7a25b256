/**
 * Property and feature changes on one qube, undoable: before each change the old value is read
 * (a property's value or that it was at its default, a feature's value or that it was absent),
 * and `rollback()` restores them in reverse order. Only the first change of a name records its
 * old value, so a name changed twice is restored to what it was before the transaction. Only the
 * names qrexec-policy/70-tmpl.policy grants (template-plan.ts) can be changed.
 */
import type { Logger } from 'pino';
import type { AdminClient } from '../qubes/admin-client.ts';
import type { TemplateFeatureName, TemplatePropertyName } from './template-plan.ts';

type Undo =
  | { readonly kind: 'property'; readonly name: string; readonly old: { isDefault: boolean; value: string } }
  | { readonly kind: 'feature'; readonly name: string; readonly old: string | undefined };

export class ConfigTransaction {
  readonly #admin: AdminClient;
  readonly #vm: string;
  readonly #log: Logger;
  readonly #undo: Undo[] = [];
  readonly #seen = new Set<string>();
  readonly #recording: boolean;

  /**
   * `recording: false` for a qube created by this install: it is removed on failure, so reading
   * old values would only cost calls (each a qrexec round trip from a management VM).
   */
  constructor(admin: AdminClient, vm: string, log: Logger, options: { recording: boolean }) {
    this.#admin = admin;
    this.#vm = vm;
    this.#log = log;
    this.#recording = options.recording;
  }

  async #recordProperty(name: string): Promise<void> {
    if (!this.#recording || this.#seen.has(`property:${name}`)) return;
    const { isDefault, value } = await this.#admin.getProperty(this.#vm, name);
    this.#seen.add(`property:${name}`);
    this.#undo.push({ kind: 'property', name, old: { isDefault, value } });
  }

  async setProperty(name: TemplatePropertyName, value: string): Promise<void> {
    await this.#recordProperty(name);
    await this.#admin.setProperty(this.#vm, name, value);
  }

  async resetProperty(name: TemplatePropertyName): Promise<void> {
    await this.#recordProperty(name);
    await this.#admin.resetProperty(this.#vm, name);
  }

  async setFeature(name: TemplateFeatureName, value: string): Promise<void> {
    if (this.#recording && !this.#seen.has(`feature:${name}`)) {
      const old = await this.#admin.getFeature(this.#vm, name);
      this.#seen.add(`feature:${name}`);
      this.#undo.push({ kind: 'feature', name, old });
    }
    await this.#admin.setFeature(this.#vm, name, value);
  }

  /**
   * Restores every recorded old value, newest first. Keeps going past a failed step (restoring
   * as much as it can) and returns the names it could not restore.
   */
  async rollback(): Promise<string[]> {
    const failed: string[] = [];
    for (const step of [...this.#undo].reverse()) {
      try {
        if (step.kind === 'property') {
          if (step.old.isDefault) await this.#admin.resetProperty(this.#vm, step.name);
          else await this.#admin.setProperty(this.#vm, step.name, step.old.value);
        } else if (step.old === undefined) {
          await this.#admin.removeFeature(this.#vm, step.name);
        } else {
          await this.#admin.setFeature(this.#vm, step.name, step.old);
        }
      } catch (error) {
        this.#log.error({ vm: this.#vm, [step.kind]: step.name, err: error }, 'could not restore');
        failed.push(`${step.kind} ${step.name}`);
      }
    }
    this.#undo.length = 0;
    this.#seen.clear();
    return failed;
  }
}
