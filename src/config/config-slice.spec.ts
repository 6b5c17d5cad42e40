import {
  defineConfig,
  definedConfigSlices,
  LoadedConfig,
  loadConfig,
  loadSlice,
  provideConfig,
  type ConfigSlice,
} from 'src/config/config-slice';
import { ConfigValidationError, type EnvReader } from 'src/config/env-reader';

/** A slice that reads `name` as a port, or says so. */
const portSlice = (slice: string, variable: string): ConfigSlice<{ port?: number }> =>
  defineConfig(slice, (env: EnvReader) => {
    const raw = env.str(variable);
    if (raw !== undefined && !/^\d+$/.test(raw)) env.problem(`${variable} must be a port number`);
    return { port: raw === undefined ? undefined : Number(raw) };
  });

const first = portSlice('first', 'FIRST_PORT');
const second = portSlice('second', 'SECOND_PORT');

function errorOf(run: () => unknown): ConfigValidationError {
  try {
    run();
  } catch (err) {
    if (err instanceof ConfigValidationError) return err;
    throw err;
  }
  throw new Error('expected a ConfigValidationError');
}

describe('config slices', () => {
  it('gives each slice a name and its own injection token', () => {
    expect(first.name).toBe('first');
    expect(typeof first.KEY).toBe('symbol');
    expect(first.KEY).not.toBe(second.KEY);
  });

  it('refuses a slice defined twice, naming it', () => {
    expect(() => defineConfig('first', () => ({}))).toThrow('config slice "first" is defined twice');
  });

  describe('loadConfig', () => {
    it('loads every slice it is given from one environment', () => {
      const config = loadConfig({ FIRST_PORT: '1', SECOND_PORT: '2' }, [first, second]);
      expect(config).toBeInstanceOf(LoadedConfig);
      expect(config.get(first)).toEqual({ port: 1 });
      expect(config.get(second)).toEqual({ port: 2 });
      expect(config.env).toEqual({ FIRST_PORT: '1', SECOND_PORT: '2' });
    });

    it('validates the slices together: every problem of every slice in one error', () => {
      const err = errorOf(() => loadConfig({ FIRST_PORT: 'one', SECOND_PORT: 'two' }, [first, second]));
      expect(err.problems).toEqual(['FIRST_PORT must be a port number', 'SECOND_PORT must be a port number']);
      expect(err.message).toBe(
        'Invalid configuration:\n  - FIRST_PORT must be a port number\n  - SECOND_PORT must be a port number',
      );
    });

    it('reads only the slices it is given, and refuses to answer for any other', () => {
      const config = loadConfig({ FIRST_PORT: '1', SECOND_PORT: 'two' }, [first]);
      expect(config.get(first)).toEqual({ port: 1 });
      expect(() => config.get(second)).toThrow(
        'config slice "second" is not one of the slices the configuration was loaded from',
      );
      const late = portSlice('late', 'LATE_PORT');
      expect(() => config.get(late)).toThrow(
        'config slice "late" is not one of the slices the configuration was loaded from',
      );
    });
  });

  it('remembers every slice defined, in order, for the composition root’s check', () => {
    expect(
      definedConfigSlices()
        .map((s) => s.name)
        .slice(0, 2),
    ).toEqual(['first', 'second']);
  });

  describe('loadSlice', () => {
    it('loads one slice on its own', () => {
      expect(loadSlice(first, { FIRST_PORT: '8080' })).toEqual({ port: 8080 });
    });

    it('reports only that slice’s problems', () => {
      const err = errorOf(() => loadSlice(first, { FIRST_PORT: 'one', SECOND_PORT: 'two' }));
      expect(err.problems).toEqual(['FIRST_PORT must be a port number']);
    });
  });

  it('provideConfig makes a slice’s loaded value injectable under its token', () => {
    const config = loadConfig({ FIRST_PORT: '3' }, [first]);
    const provider = provideConfig(first) as {
      provide: symbol;
      inject: unknown[];
      useFactory: (c: LoadedConfig) => unknown;
    };
    expect(provider.provide).toBe(first.KEY);
    expect(provider.inject).toEqual([LoadedConfig]);
    expect(provider.useFactory(config)).toEqual({ port: 3 });
  });
});
