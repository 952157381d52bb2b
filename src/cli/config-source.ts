// Finds the configuration the CLI should use: --config, else MANDATE_CONFIG, else the built-in dev defaults.
import { defaultConfig, loadConfigFile } from '../config/load.js';
import type { MandateConfig } from '../config/types.js';

export function resolveConfig(
  configPath: string | undefined,
  env: NodeJS.ProcessEnv,
): MandateConfig {
  const path = configPath ?? env['MANDATE_CONFIG'];
  if (path !== undefined && path !== '') return loadConfigFile(path, { env });
  return defaultConfig({ env });
}
