/**
 * The package's version, as package.json has it: the OpenTelemetry meter carries it (the
 * instrumentation scope's version). A constant rather than an import of package.json, so the
 * ESM, CommonJS and browser builds need no JSON import; test/unit/version.test.ts fails when the
 * two differ (after `npm version`, update it here).
 */
export const PACKAGE_NAME = 'livekit-agents-metrics';
export const PACKAGE_VERSION = '0.1.0';
