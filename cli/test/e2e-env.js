// Every km an e2e test starts inherits this unless the test sets its own: a server given a signal is killed after
// KM_SERVER_KILL_AFTER_MS (1 s by default), and on a loaded machine a server's own exit may take longer. The tests
// of that deadline set it themselves.
process.env.KM_SERVER_KILL_AFTER_MS ??= '600000';
