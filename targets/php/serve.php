<?php
/*
 * Starts PHP's built-in server (php -S) with router.php for sessionspec. It is
 * the one process the peer's "start" execs, and exists because php -S alone
 * cannot do four things the target contract needs:
 *
 *  1. announce its URL: php -S binds 127.0.0.1:0 itself (the kernel picks the
 *     port and php -S holds it, so no port is chosen in advance) and logs
 *     "PHP 8.2.x Development Server (http://127.0.0.1:PORT) started" on
 *     stderr; this program reads that line and prints
 *     "listening on http://127.0.0.1:PORT/ ..." on stdout;
 *  2. stop its workers: with PHP_CLI_SERVER_WORKERS the php -S master forks
 *     the workers and, killed, leaves them running (re-parented to init:
 *     measured with SIGTERM to the master of `PHP_CLI_SERVER_WORKERS=4 php -S`);
 *     on SIGTERM, SIGINT or SIGHUP this program signals the master and every
 *     child of it, and waits for them;
 *  3. give the files save handler a directory of its own: a fresh one under
 *     sys_get_temp_dir() (mode 0700) per start, removed with its session
 *     files once the server has stopped;
 *  4. collect garbage: PHP ends a timed-out session only when its garbage
 *     collection (PS_GC_FUNC(files), ext/session/mod_files.c) unlinks the
 *     session's file. GC runs either inside session_start(), with probability
 *     session.gc_probability/session.gc_divisor, *after* the request's own
 *     session was read (php_session_initialize, ext/session/session.c), or
 *     when a script calls session_gc(). PHP's manual (session_gc) recommends
 *     the latter for production: "it is recommended to execute GC
 *     periodically for production systems using, e.g., "cron" ... Make sure
 *     to disable probability based GC by setting session.gc_probability to
 *     0", with a three-line cron script, session_start(); session_gc();
 *     session_destroy(); Debian does the same (gc_probability = 0 in its
 *     php.ini, /usr/lib/php/sessionclean every 30 minutes from
 *     phpsessionclean.timer). This program runs the manual's three lines
 *     every --gc-every milliseconds (100 by default). DEPLOYMENT (ADAPTER)
 *     CODE: it only schedules PHP's own GC, which decides what to delete.
 *     Why not GC in requests only (--gc-in-requests 1 --gc-every 0): then
 *     whether a timed-out session is found gone depends on whether another
 *     client's request ran GC in between, and a lone client gets its timed-out
 *     session back once (measured: README.md, finding 1).
 *
 * It changes nothing in how PHP handles a request: every session setting is a
 * -d flag of the php -S command line below.
 *
 * Usage: php serve.php [--port 0] [--timeout SECONDS] [--strict 0|1] [--workers N]
 *                      [--gc-every MS] [--gc-in-requests 0|1]
 *   --timeout          session.gc_maxlifetime, whole seconds (default 2)
 *   --strict           session.use_strict_mode (default 0, PHP's default)
 *   --workers          PHP_CLI_SERVER_WORKERS (default 4; 1: php -S's single process)
 *   --gc-every         milliseconds between two session_gc() runs (default 100; 0: none)
 *   --gc-in-requests   0: session.gc_probability 0 (Debian's php.ini, the manual's
 *                      advice; default); 1: gc_probability 1, gc_divisor 1, GC in
 *                      every session_start()
 * Everything php -S logs goes to this program's stderr. Exit 0 when stopped
 * by a signal, 1 when php -S ends by itself, 2 on a usage or start error.
 */

declare(strict_types=1);

const USAGE = 'usage: php serve.php [--port 0] [--timeout SECONDS] [--strict 0|1] [--workers N] [--gc-every MS] [--gc-in-requests 0|1]';

function usage(string $why): never
{
    fwrite(STDERR, "serve.php: $why\n" . USAGE . "\n");
    exit(2);
}

$opts = getopt('', ['port:', 'timeout:', 'strict:', 'workers:', 'gc-every:', 'gc-in-requests:'], $rest);
if ($opts === false || $rest !== count($argv)) {
    usage('unexpected arguments');
}
$int = function (string $name, int $def, int $lo, int $hi) use ($opts): int {
    if (!isset($opts[$name])) {
        return $def;
    }
    $v = $opts[$name];
    if (!is_string($v) || !preg_match('/^[0-9]+$/', $v) || (int)$v < $lo || (int)$v > $hi) {
        usage("--$name wants a whole number from $lo to $hi");
    }
    return (int)$v;
};
$port = $int('port', 0, 0, 65535);
$timeout = $int('timeout', 2, 1, 366 * 86400);
$strict = $int('strict', 0, 0, 1);
$workers = $int('workers', 4, 1, 64);
$gcEvery = $int('gc-every', 100, 0, 3600 * 1000);
$gcInRequests = $int('gc-in-requests', 0, 0, 1);

// How garbage is collected, in words: the discovery document and the
// "listening on" line say it.
$gcWords = 'GC ' . (implode(' and ', array_filter([
    $gcInRequests ? 'in every session_start (gc_probability 1/1)' : '',
    $gcEvery > 0 ? "by session_gc() every $gcEvery ms" . ($gcInRequests ? '' : ' (gc_probability 0)') : '',
])) ?: 'never');

// The save path: a throw-away directory per start.
$dir = null;
for ($i = 0; $i < 10 && $dir === null; $i++) {
    $try = sys_get_temp_dir() . '/sessionspec-php-' . bin2hex(random_bytes(8));
    if (@mkdir($try, 0700)) {
        $dir = $try;
    }
}
if ($dir === null) {
    usage('cannot make a session directory under ' . sys_get_temp_dir());
}

function remove_dir(string $dir): void
{
    foreach (scandir($dir) ?: [] as $f) {
        if ($f !== '.' && $f !== '..') {
            @unlink("$dir/$f");
        }
    }
    @rmdir($dir);
}

$cmd = [
    PHP_BINARY, '-q',   // -q: no log line per request (php -S still logs its start)
    // PHP's warnings (session_start's among them) to stderr: -q also silences
    // php -S's own error log, where they would go with Debian's php.ini
    '-d', 'log_errors=1', '-d', 'error_log=/dev/stderr', '-d', 'html_errors=0',
    // The session settings (php.ini is Debian's, /etc/php/8.2/cli/php.ini;
    // these override it; every other session setting is Debian's):
    '-d', 'session.save_handler=files',
    '-d', 'session.save_path=' . $dir,
    '-d', 'session.gc_maxlifetime=' . $timeout,   // the timeout, whole seconds
    '-d', 'session.gc_probability=' . $gcInRequests,
    '-d', 'session.gc_divisor=' . ($gcInRequests ? 1 : 1000),
    '-d', 'session.use_strict_mode=' . $strict,
    '-S', '127.0.0.1:' . $port,
    __DIR__ . '/router.php',
];
$env = getenv();
$env['PHP_CLI_SERVER_WORKERS'] = (string)$workers;
$env['SESSIONSPEC_GC'] = $gcWords;   // for the discovery document only

$proc = proc_open($cmd, [0 => ['file', '/dev/null', 'r'], 1 => ['pipe', 'w'], 2 => ['pipe', 'w']], $pipes, __DIR__, $env);
if (!is_resource($proc)) {
    remove_dir($dir);
    usage('cannot start ' . PHP_BINARY . ' -S');
}
$master = proc_get_status($proc)['pid'];

$stop = 0;
pcntl_async_signals(true);
foreach ([SIGTERM, SIGINT, SIGHUP] as $sig) {
    pcntl_signal($sig, function (int $s) use (&$stop): void {
        $stop = $s;
    });
}

/** The pids of the processes whose parent is $ppid (php -S's workers). */
function children(int $ppid): array
{
    $out = [];
    foreach (glob('/proc/[0-9]*/stat') ?: [] as $f) {
        $s = @file_get_contents($f);
        // pid (comm) state ppid ...; comm may hold spaces and parentheses
        if ($s !== false && ($p = strrpos($s, ')')) !== false) {
            $fields = explode(' ', substr($s, $p + 2));
            if ((int)($fields[1] ?? 0) === $ppid) {
                $out[] = (int)substr($s, 0, strpos($s, ' '));
            }
        }
    }
    return $out;
}

$announced = false;
$relay = function (int $fd, string $line) use (&$announced, $timeout, $strict, $workers, $dir, $gcWords): void {
    fwrite($fd === 1 ? STDOUT : STDERR, $line . "\n");
    if (!$announced && preg_match('~Development Server \(http://127\.0\.0\.1:([0-9]+)\) started~', $line, $m)) {
        $announced = true;
        fwrite(STDOUT, sprintf(
            "listening on http://127.0.0.1:%s/ : PHP %s ext/session, files save handler in %s, php -S with %d worker(s); session.gc_maxlifetime %d s, %s; use_strict_mode %d\n",
            $m[1], PHP_VERSION, $dir, $workers, $timeout, $gcWords, $strict));
        fflush(STDOUT);
    }
};

// The cron job of point 4, in this process: PHP's own session GC on the
// server's directory with the server's gc_maxlifetime.
if ($gcEvery > 0) {
    ini_set('session.save_handler', 'files');
    ini_set('session.save_path', $dir);
    ini_set('session.gc_maxlifetime', (string)$timeout);
    ini_set('session.gc_probability', '0');   // session_gc() below is the collection
    ini_set('session.use_cookies', '0');
    ini_set('session.cache_limiter', '');
}
$collect = function (): void {
    // The session_gc() manual page's example #1, "for task managers like
    // cron": an active session gives access to the save handler; GC; then
    // remove the session this made.
    if (session_start()) {
        session_gc();
        session_destroy();
    }
};

$buf = [1 => '', 2 => ''];
$open = [1 => $pipes[1], 2 => $pipes[2]];
foreach ($open as $p) {
    stream_set_blocking($p, false);
}
$nextGC = microtime(true);
while (!$stop && $open) {
    if ($gcEvery > 0 && microtime(true) >= $nextGC) {
        $collect();
        $nextGC = microtime(true) + $gcEvery / 1000;
    }
    $r = array_values($open);
    $w = $e = null;
    $wait = $gcEvery > 0 ? max(0, min(200000, (int)(($nextGC - microtime(true)) * 1e6))) : 200000;
    $n = @stream_select($r, $w, $e, 0, $wait);
    if ($n === false || $n === 0) {
        continue;   // a signal (EINTR) or nothing to read
    }
    foreach ($open as $fd => $p) {
        if (!in_array($p, $r, true)) {
            continue;
        }
        $chunk = fread($p, 65536);
        if ($chunk === false || ($chunk === '' && feof($p))) {
            if ($buf[$fd] !== '') {
                $relay($fd, $buf[$fd]);
            }
            unset($open[$fd]);
            continue;
        }
        $buf[$fd] .= $chunk;
        while (($nl = strpos($buf[$fd], "\n")) !== false) {
            $relay($fd, substr($buf[$fd], 0, $nl));
            $buf[$fd] = (string)substr($buf[$fd], $nl + 1);
        }
    }
}

// Stop php -S: its workers first (found before the master goes, while they
// are still its children), then the master; SIGKILL whatever is left after 5 s.
$pids = children($master);
foreach ($pids as $pid) {
    @posix_kill($pid, SIGTERM);
}
proc_terminate($proc, SIGTERM);
$deadline = microtime(true) + 5;
// A worker is gone once it is a zombie: the master, its parent, is gone too,
// so init reaps it (in its own time: up to 2 s measured in this container).
$running = function (int $pid): bool {
    $s = @file_get_contents("/proc/$pid/stat");
    return $s !== false && ($p = strrpos($s, ')')) !== false && !in_array($s[$p + 2] ?? 'X', ['Z', 'X'], true);
};
$alive = function () use (&$pids, $proc, $running): bool {
    $pids = array_values(array_filter($pids, $running));
    return $pids || proc_get_status($proc)['running'];
};
while ($alive() && microtime(true) < $deadline) {
    usleep(20000);
}
foreach ($pids as $pid) {
    @posix_kill($pid, SIGKILL);
}
if (proc_get_status($proc)['running']) {
    proc_terminate($proc, SIGKILL);
}
foreach ($pipes as $p) {
    @fclose($p);
}
proc_close($proc);
remove_dir($dir);
if ($stop) {
    fwrite(STDERR, "serve.php: stopped (signal $stop), removed $dir\n");
    exit(0);
}
fwrite(STDERR, "serve.php: php -S ended by itself; removed $dir\n");
exit(1);
