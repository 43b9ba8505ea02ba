// Preloaded (--import) into every test file's process by `npm test`. Such a process streams its
// results to the runner over a pipe, and on Linux a pipe write is asynchronous: --test-force-exit
// then exits while the tail of the results is still buffered, and the runner reports the file as
// passed with those results missing (nodejs/node#64833; seen twice in our CI). A blocking pipe
// lets nothing stay buffered. Only in the runner's children: elsewhere stdout is left as it is.
if (process.env.NODE_TEST_CONTEXT) {
  (process.stdout as unknown as { _handle?: { setBlocking?(blocking: boolean): void } })._handle?.setBlocking?.(true);
}
