/** admin.vm.property.*, admin.property.*, admin.vm.feature.*, admin.vm.tag.* (qubes/api/admin.py). */
import { method, type CallContext, type MethodSpec } from './api.ts';
import { exc } from './errors.ts';
import { checkPreloadMax } from './disposables.ts';
import { lookUpFeature } from './feature-lookup.ts';
import type { Holder } from './model.ts';
import { ascii, isAscii, validateTag } from './names.ts';
import { preloadMaxChanged } from './preload.ts';
import {
  findDef,
  holderName,
  propertyList,
  resetProperty,
  serializeDefault,
  serializeProperty,
  setProperty,
} from './properties.ts';

const vmHolder = (ctx: CallContext): Holder => ({ kind: 'vm', vm: ctx.dest });
const appHolder = (): Holder => ({ kind: 'app' });

function def(ctx: CallContext, holder: Holder) {
  const found = findDef(holder, ctx.arg);
  if (!found) throw exc.noSuchProperty(holderName(holder), ctx.arg);
  return found;
}

function propertyMethods(
  prefix: string,
  holderOf: (ctx: CallContext) => Holder,
  destAdminvm: boolean | null,
) {
  const list = (ctx: CallContext) =>
    [...propertyList(holderOf(ctx))]
      .map((d) => d.name)
      .sort()
      .map((n) => `${n}\n`)
      .join('');
  const get = (ctx: CallContext) => serializeProperty(ctx.model, holderOf(ctx), def(ctx, holderOf(ctx)));
  const getAll = (ctx: CallContext) => {
    const holder = holderOf(ctx);
    return [...propertyList(holder)]
      .sort((a, b) => (a.name < b.name ? -1 : 1))
      .map((d) => {
        const text = serializeProperty(ctx.model, holder, d).replaceAll('\\', '\\\\').replaceAll('\n', '\\n');
        return `${d.name} ${text}\n`;
      })
      .join('');
  };
  const getDefault = (ctx: CallContext) =>
    serializeDefault(ctx.model, holderOf(ctx), def(ctx, holderOf(ctx)));
  const set = (ctx: CallContext) => {
    setProperty(ctx.model, holderOf(ctx), def(ctx, holderOf(ctx)), ctx.payload);
    return null;
  };
  const reset = (ctx: CallContext) => {
    resetProperty(ctx.model, holderOf(ctx), def(ctx, holderOf(ctx)));
    return null;
  };
  return [
    [`${prefix}.List`, method(false, false, destAdminvm, false, list)],
    [`${prefix}.Get`, method(true, false, destAdminvm, false, get)],
    [`${prefix}.GetAll`, method(false, false, destAdminvm, false, getAll)],
    [`${prefix}.GetDefault`, method(true, false, destAdminvm, false, getDefault)],
    [`${prefix}.Set`, method(true, null, destAdminvm, true, set)],
    [`${prefix}.Reset`, method(true, false, destAdminvm, true, reset)],
  ] as Array<[string, MethodSpec]>;
}

/** qubes.features.Features._recursive_check, as an Admin API call: a missing feature is an exception. */
function checkFeature(ctx: CallContext, attr: 'template' | 'netvm' | null, adminvm: boolean): string {
  const value = lookUpFeature(ctx.model, ctx.dest, ctx.arg, attr, adminvm);
  if (value === undefined) throw exc.featureNotFound(ctx.dest.name, ctx.arg);
  return value;
}

function featureSet(ctx: CallContext): null {
  if (!isAscii(ctx.payload)) throw exc.protocol('Feature value contains non-ASCII characters');
  const value = ascii(ctx.payload);
  if (!/^[a-zA-Z0-9_.-]+$/.test(ctx.arg)) throw exc.protocol('feature name contains illegal characters');
  if (!/^[\x20-\x7e]*$/.test(value)) throw exc.protocol(`${ctx.arg} value contains illegal characters`);
  const preloadMax = ctx.arg === 'preload-dispvm-max';
  if (preloadMax) checkPreloadMax(ctx, value);
  const old = ctx.dest.features[ctx.arg];
  ctx.dest.features[ctx.arg] = value;
  if (preloadMax) preloadMaxChanged(ctx, old, false);
  return null;
}

function featureGet(ctx: CallContext): string {
  const value = ctx.dest.features[ctx.arg];
  if (value === undefined) throw exc.featureNotFound(ctx.dest.name, ctx.arg);
  return value;
}

function featureRemove(ctx: CallContext): null {
  if (!Object.hasOwn(ctx.dest.features, ctx.arg)) throw exc.featureNotFound(ctx.dest.name, ctx.arg);
  delete ctx.dest.features[ctx.arg];
  if (ctx.arg === 'preload-dispvm-max') preloadMaxChanged(ctx, undefined, true);
  return null;
}

function tagSet(ctx: CallContext): null {
  validateTag(ctx.arg);
  if (!ctx.dest.tags.includes(ctx.arg)) ctx.dest.tags.push(ctx.arg);
  return null;
}

function tagRemove(ctx: CallContext): null {
  validateTag(ctx.arg);
  if (!ctx.dest.tags.includes(ctx.arg)) throw exc.tagNotFound(ctx.dest.name, ctx.arg);
  ctx.dest.tags = ctx.dest.tags.filter((t) => t !== ctx.arg);
  return null;
}

export const PROPERTY_METHODS: ReadonlyArray<[string, MethodSpec]> = [
  ...propertyMethods('admin.vm.property', vmHolder, null),
  ...propertyMethods('admin.property', appHolder, true),
  [
    'admin.vm.feature.List',
    method(false, false, null, false, (ctx) =>
      Object.keys(ctx.dest.features)
        .map((f) => `${f}\n`)
        .join(''),
    ),
  ],
  ['admin.vm.feature.Get', method(true, false, null, false, featureGet)],
  [
    'admin.vm.feature.CheckWithTemplate',
    method(true, false, null, false, (ctx) => checkFeature(ctx, 'template', false)),
  ],
  [
    'admin.vm.feature.CheckWithNetvm',
    method(true, false, null, false, (ctx) => checkFeature(ctx, 'netvm', false)),
  ],
  [
    'admin.vm.feature.CheckWithAdminVM',
    method(true, false, null, false, (ctx) => checkFeature(ctx, null, true)),
  ],
  [
    'admin.vm.feature.CheckWithTemplateAndAdminVM',
    method(true, false, null, false, (ctx) => checkFeature(ctx, 'template', true)),
  ],
  ['admin.vm.feature.Set', method(true, null, null, true, featureSet)],
  ['admin.vm.feature.Remove', method(true, false, null, true, featureRemove)],
  [
    'admin.vm.tag.List',
    method(false, false, null, false, (ctx) =>
      [...ctx.dest.tags]
        .sort()
        .map((t) => `${t}\n`)
        .join(''),
    ),
  ],
  [
    'admin.vm.tag.Get',
    method(true, false, null, false, (ctx) => {
      validateTag(ctx.arg);
      return ctx.dest.tags.includes(ctx.arg) ? '1' : '0';
    }),
  ],
  ['admin.vm.tag.Set', method(true, false, null, true, tagSet)],
  ['admin.vm.tag.Remove', method(true, false, null, true, tagRemove)],
];
