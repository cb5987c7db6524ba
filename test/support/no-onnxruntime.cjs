// Preloaded with `node -r` to run mlstack as a consumer without its optional peers that only some commands use
// (onnxruntime-node for serve, @kubernetes/client-node for apply): resolving them fails as it does when they are
// not installed.
const Module = require('node:module');
const HIDDEN = ['onnxruntime-node', '@kubernetes/client-node'];
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  if (HIDDEN.some((m) => request === m || request.startsWith(`${m}/`))) {
    const err = new Error(`Cannot find module '${request}'`);
    err.code = 'MODULE_NOT_FOUND';
    throw err;
  }
  return resolve.call(this, request, ...rest);
};
