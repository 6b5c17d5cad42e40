// The @nestjs/swagger CLI plugin as a ts-jest AST transformer: the `before` hook `nest build` runs, with the
// options jest.config.js passes in (nest-cli.json's), so the suites see the OpenAPI metadata the build emits.
// @nestjs/swagger ships ES modules only: Node (>= 20.19) loads them here through require(esm).
//
// ts-jest transpiles each file on its own (isolatedModules), so the plugin's type checker sees one file: it
// infers primitives, literal unions, nullability and classes of the same file, but not array element types
// nor types imported from other files. DTOs state those with @ApiProperty({ type }) (see the DTOs).
const { before } = require('@nestjs/swagger/plugin');

module.exports = {
  name: 'nestjs-swagger-plugin',
  // Part of ts-jest's cache key: another @nestjs/swagger recompiles the DTOs.
  version: require('@nestjs/swagger/package.json').version,
  factory: (tsCompiler, options) => before(options, tsCompiler.program),
};
