/**
 * The generated rules wrapped in a Prometheus Operator `PrometheusRule` (monitoring.coreos.com/v1),
 * for clusters where the operator loads rules from custom resources instead of files.
 */
import { MetricsConfigError, readOption, readRecord, shown } from '../errors.js';
import {
  buildPrometheusRules,
  generatePrometheusRules,
  type PrometheusRulesOptions,
  toYaml,
} from './rules.js';

/** The Kubernetes object's metadata. */
export interface RuleManifestMeta {
  /** `metadata.name`: a DNS-1123 subdomain. Default: `livekit-agents-metrics`. */
  name?: string;
  /** `metadata.namespace`; omitted by default (the namespace `kubectl apply` uses). */
  namespace?: string;
  /** `metadata.labels`, e.g. what the Prometheus resource's `ruleSelector` matches. */
  labels?: Record<string, string>;
}

// Kubernetes' own rules (k8s.io/apimachinery/pkg/util/validation): names are DNS-1123
// subdomains (namespaces DNS-1123 labels), label keys an optional DNS prefix and a name part of 63
// characters at most, label values 63 characters at most.
const DNS_LABEL = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
const DNS_SUBDOMAIN = new RegExp(`^${DNS_LABEL}(\\.${DNS_LABEL})*$`);
const DNS_LABEL_ONLY = new RegExp(`^${DNS_LABEL}$`);
const LABEL_NAME_PART = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

function checkName(option: string, value: unknown, pattern: RegExp, max: number): string {
  if (typeof value !== 'string' || value.length > max || !pattern.test(value)) {
    throw new MetricsConfigError(
      option,
      `expected lower-case letters, digits and '-' (at most ${max} characters), got ${shown(value)}`,
    );
  }
  return value;
}

function checkLabel(key: string, value: unknown): void {
  const slash = key.lastIndexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = key.slice(slash + 1);
  const keyOk =
    name.length <= 63 &&
    LABEL_NAME_PART.test(name) &&
    (prefix === undefined || (prefix.length <= 253 && DNS_SUBDOMAIN.test(prefix)));
  if (!keyOk) {
    throw new MetricsConfigError(
      'labels',
      `${shown(key)} is not a Kubernetes label key (an optional DNS prefix and '/', then at most 63 letters, digits, '-', '_' or '.')`,
    );
  }
  if (typeof value !== 'string' || value.length > 63 || !LABEL_VALUE.test(value)) {
    throw new MetricsConfigError(
      'labels',
      `the value of ${shown(key)}, ${shown(value)}, is not a Kubernetes label value (at most 63 letters, digits, '-', '_' or '.')`,
    );
  }
}

/**
 * A `PrometheusRule` manifest (YAML) whose `spec.groups` are exactly the groups of
 * {@link generatePrometheusRules} with the same options, under the same header comment.
 * Throws MetricsConfigError for an invalid option, name or label.
 */
export function generatePrometheusRuleManifest(
  options: PrometheusRulesOptions = {},
  meta: RuleManifestMeta = {},
): string {
  if (typeof meta !== 'object' || meta === null) {
    throw new MetricsConfigError('meta', 'expected { name, namespace, labels }');
  }
  const name = checkName(
    'name',
    readOption(meta, 'name', 'name') ?? 'livekit-agents-metrics',
    DNS_SUBDOMAIN,
    253,
  );
  const given = readOption(meta, 'namespace', 'namespace');
  const namespace =
    given === undefined ? undefined : checkName('namespace', given, DNS_LABEL_ONLY, 63);
  const entries = readRecord(readOption(meta, 'labels', 'labels') ?? {}, 'labels');
  if (!entries) throw new MetricsConfigError('labels', 'expected an object of label values');
  // No prototype: a label named `__proto__` is a label like any other.
  const labels: Record<string, string> = Object.create(null);
  for (const [key, value] of entries) {
    checkLabel(key, value);
    labels[key] = value as string;
  }

  const rules = generatePrometheusRules(options);
  // The rules file's own header (window, for, the Alertmanager inhibit advice) is kept.
  const lines = rules.split('\n');
  const header = lines.slice(
    0,
    lines.findIndex((line) => !line.startsWith('#')),
  );
  header.push(
    '#',
    '# A Prometheus Operator PrometheusRule (`rules --format prometheusrule`): the Prometheus',
    '# resource loads it when its ruleSelector matches these labels and its',
    '# ruleNamespaceSelector this namespace.',
  );
  const metadata: Record<string, string | Record<string, string>> = { name };
  if (namespace !== undefined) metadata.namespace = namespace;
  if (Object.keys(labels).length > 0) metadata.labels = labels;
  const manifest = {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata,
    spec: buildPrometheusRules(options),
  };
  return `${header.join('\n')}\n${toYaml(manifest)}`;
}
