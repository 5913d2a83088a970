/**
 * Prometheus label names: what a valid one is, and the ones the exporters set themselves. A leaf
 * module, so option validation and the hub protocol can share it without an import cycle.
 */
import { FAMILIES, FAMILY_KEYS } from './families.js';

/** Prometheus label names; `__`-prefixed names are reserved. */
export const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
/** Longest constant label value (as tool, provider and model names are capped). */
export const MAX_LABEL_VALUE = 128;
/** Labels the exporters set themselves (the catalog's family labels, and Prometheus's own), so
 * a constant label must not take them. */
export const RESERVED_LABELS: readonly string[] = [
  'le',
  'quantile',
  ...new Set(FAMILY_KEYS.flatMap((key) => FAMILIES[key].labelNames)),
];
