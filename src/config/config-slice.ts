import type { Provider } from '@nestjs/common';
import { ConfigValidationError, EnvReader, type Env } from 'src/config/env-reader';

/**
 * One feature's settings: a name, an injection token and a loader that reads the environment through an
 * EnvReader (which collects problems instead of throwing). A feature defines its slice next to its module
 * and provides it with `provideConfig(slice)`; nothing central lists the slices.
 */
export interface ConfigSlice<T> {
  readonly name: string;
  readonly KEY: symbol;
  load(env: EnvReader): T;
}

const slices: ConfigSlice<unknown>[] = [];

/**
 * Defines (and registers) a slice. Slices register when their file is first imported, so by the time
 * `loadConfig` runs from the composition root, every feature AppModule imports has registered its own.
 */
export function defineConfig<T>(name: string, load: (env: EnvReader) => T): ConfigSlice<T> {
  if (slices.some((s) => s.name === name)) throw new Error(`config slice "${name}" is defined twice`);
  const slice: ConfigSlice<T> = { name, KEY: Symbol(`config:${name}`), load };
  slices.push(slice);
  return slice;
}

/** Every slice's value, validated together: built once per app (see AppModule.forRoot). */
export class LoadedConfig {
  constructor(
    readonly env: Env,
    private readonly values: ReadonlyMap<ConfigSlice<unknown>, unknown>,
  ) {}

  get<T>(slice: ConfigSlice<T>): T {
    if (!this.values.has(slice)) {
      throw new Error(`config slice "${slice.name}" was defined after the configuration was loaded`);
    }
    return this.values.get(slice) as T;
  }
}

/** Reads every registered slice from `env`; throws one ConfigValidationError listing every problem. */
export function loadConfig(env: Env): LoadedConfig {
  const reader = new EnvReader(env);
  const values = new Map<ConfigSlice<unknown>, unknown>();
  for (const slice of slices) values.set(slice, slice.load(reader));
  if (reader.problems.length) throw new ConfigValidationError(reader.problems);
  return new LoadedConfig(env, values);
}

/** One slice on its own (unit tests): its value, or a ConfigValidationError with its problems. */
export function loadSlice<T>(slice: ConfigSlice<T>, env: Env): T {
  const reader = new EnvReader(env);
  const value = slice.load(reader);
  if (reader.problems.length) throw new ConfigValidationError(reader.problems);
  return value;
}

/** Makes `slice`'s value injectable as `@Inject(slice.KEY)` in the module that lists this provider. */
export function provideConfig<T>(slice: ConfigSlice<T>): Provider {
  return {
    provide: slice.KEY,
    inject: [LoadedConfig],
    useFactory: (config: LoadedConfig) => config.get(slice),
  };
}
