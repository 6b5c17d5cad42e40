import {
  Global,
  Inject,
  Logger,
  Module,
  type DynamicModule,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { ConfigModule as NestConfigModule } from '@nestjs/config';
import { APP_CONFIG, appConfig, type AppConfig } from 'src/config/app-config';
import { LoadedConfig, provideConfig } from 'src/config/config-slice';

/**
 * Holds the configuration AppModule validated (`loadAppConfig`, once per app): `LoadedConfig` for the features'
 * `provideConfig(slice)` providers, the core settings as `APP_CONFIG`, and @nestjs/config's ConfigService
 * (under `app`). It is passed in, so tests boot the app with their own variables.
 */
@Global()
@Module({})
export class AppConfigModule implements OnApplicationBootstrap {
  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  static forRoot(config: LoadedConfig): DynamicModule {
    return {
      module: AppConfigModule,
      imports: [
        NestConfigModule.forRoot({ ignoreEnvFile: true, load: [() => ({ app: config.get(appConfig) })] }),
      ],
      providers: [{ provide: LoadedConfig, useValue: config }, provideConfig(appConfig)],
      exports: [LoadedConfig, APP_CONFIG],
    };
  }

  onApplicationBootstrap(): void {
    if (this.config.isProduction && this.config.allowInsecureHttp) {
      new Logger('Config').warn(
        'ALLOW_INSECURE_HTTP=true: production may call or publish http:// URLs that are not loopback ' +
          '(OAUTH_CALLBACK_ORIGIN, JWKS URIs): tokens and keys can be read or swapped on the way',
      );
    }
    if (this.config.trustProxy === true) {
      new Logger('ClientIp').warn(
        'TRUST_PROXY=true trusts every X-Forwarded-For hop: any client can choose the IP its rate limits ' +
          'and audit rows use. Set TRUST_PROXY to the addresses of the proxies in front of keysmith (IPs, CIDRs ' +
          'or loopback).',
      );
    }
  }
}
