// Some ES modules declare `const require = createRequire(import.meta.url)`. Once babel turns them into
// CommonJS, that declaration would shadow the module's own `require`; renaming it keeps both working.
module.exports = function renameEsmRequire() {
  return {
    visitor: {
      Program(path) {
        if (path.scope.hasOwnBinding('require')) path.scope.rename('require', '__esmRequire');
      },
    },
  };
};
