/**
 * The type our Grafana dashboard JSON must have, built from `@grafana/schema` (Grafana's own
 * generated TypeScript types): the Dashboard, each panel with the options and field config of
 * its panel plugin (stat, bargauge, timeseries, heatmap), and the export wrapper's `__inputs`
 * and `__requires`. test/integration/dashboard-schema.test.ts type-checks the JSON against it as an
 * object literal, so a misspelled field is an excess-property error.
 */
import type * as schema from '@grafana/schema';
import type * as bargauge from '@grafana/schema/dist/esm/raw/composable/bargauge/panelcfg/x/BarGaugePanelCfg_types.gen';
import type * as heatmap from '@grafana/schema/dist/esm/raw/composable/heatmap/panelcfg/x/HeatmapPanelCfg_types.gen';
import type * as stat from '@grafana/schema/dist/esm/raw/composable/stat/panelcfg/x/StatPanelCfg_types.gen';
import type * as timeseries from '@grafana/schema/dist/esm/raw/composable/timeseries/panelcfg/x/TimeSeriesPanelCfg_types.gen';

/**
 * What a JSON file can hold of `T`: string enums (which JSON cannot name) become the union of
 * their values, `FieldColorModeId.Fixed` → `'fixed'`; the rest is kept, recursively.
 */
export type AsJson<T> = T extends string
  ? `${T}`
  : T extends number | boolean | null | undefined
    ? T
    : T extends ReadonlyArray<infer U>
      ? AsJson<U>[]
      : T extends object
        ? { [K in keyof T]: AsJson<T[K]> }
        : T;

/**
 * A Prometheus target. `@grafana/schema` leaves targets open (`DataQuery`); the Prometheus
 * query model lives in Grafana's prometheus data source (its `PromQuery`, and the backend's
 * pkg/tsdb/prometheus/models QueryModel): these are the fields it reads.
 */
export interface PrometheusTarget extends schema.DataQuery {
  datasource?: schema.DataSourceRef;
  expr: string;
  legendFormat?: string;
  instant?: boolean;
  range?: boolean;
  exemplar?: boolean;
  format?: 'time_series' | 'table' | 'heatmap';
  interval?: string;
  intervalFactor?: number;
  editorMode?: 'code' | 'builder';
}

/** Every property optional, at every depth; unknown properties still rejected. */
type DeepPartial<T> =
  T extends ReadonlyArray<infer U>
    ? DeepPartial<U>[]
    : T extends object
      ? { [K in keyof T]?: DeepPartial<T[K]> }
      : T;

/**
 * A panel of one plugin. Grafana merges a panel's options and custom field config over the
 * plugin's defaults when it loads the dashboard (the `defaultOptions` beside each generated
 * type), so what the JSON leaves out is filled in: both are checked as deep partials.
 */
type PluginPanel<Type extends string, Options, Custom> = Omit<
  schema.Panel,
  'type' | 'options' | 'fieldConfig' | 'targets'
> & {
  type: Type;
  options?: DeepPartial<Options>;
  fieldConfig?: Omit<schema.FieldConfigSource, 'defaults'> & {
    defaults: Omit<schema.FieldConfig, 'custom'> & { custom?: DeepPartial<Custom> };
  };
  targets?: PrometheusTarget[];
};

export type DashboardPanel =
  | PluginPanel<'stat', stat.Options, never>
  | PluginPanel<'bargauge', bargauge.Options, never>
  | PluginPanel<'timeseries', timeseries.Options, timeseries.FieldConfig>
  | PluginPanel<'heatmap', heatmap.Options, heatmap.FieldConfig>;

/** The JSON of a panel of this plugin type; for another type, an error that lists the known. */
export type PanelJson<Type extends string> = Type extends DashboardPanel['type']
  ? Extract<AsJson<DashboardPanel>, { type: Type }>
  : { type: DashboardPanel['type'] } & Record<string, unknown>;

/** The wrapper Grafana's "Export for sharing externally" adds, read again on import. */
interface ExportWrapper {
  __inputs: Array<{
    name: string;
    label: string;
    description?: string;
    type: 'datasource';
    pluginId: string;
    pluginName: string;
  }>;
  __requires: Array<{
    type: 'grafana' | 'datasource' | 'panel';
    id: string;
    name: string;
    version: string;
  }>;
}

/**
 * A template variable. Grafana writes `definition` (the query as text, for the variables list)
 * into every query variable it saves, though @grafana/schema does not declare it.
 */
type Variable = schema.VariableModel & { definition?: string };

export type DashboardJson = AsJson<
  Omit<schema.Dashboard, 'panels' | 'templating'> &
    ExportWrapper & { panels: DashboardPanel[]; templating: { list: Variable[] } }
>;
