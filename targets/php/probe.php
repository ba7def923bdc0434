<?php
/*
 * Measurements behind targets/php/README.md, by hand, with no suite: starts
 * serve.php (with the serve.php flags given after "--"), runs one
 * measurement against it, stops it.
 *
 *   php probe.php lifetime [--sessions 10] -- [serve.php flags]
 *       N new sessions a tenth of a second apart (GET /), then the session
 *       directory polled every 5 ms: for each session file, its mtime
 *       (nanoseconds), when it disappeared, and so how long the session
 *       lived after its last write, and in which whole second it went
 *   php probe.php revive [--idle 3.25] -- [serve.php flags]
 *       one client alone: /counter twice, --idle seconds with no request at
 *       all, /counter again (the count it shows and whether the session file
 *       is there afterwards), /counter once more
 *   php probe.php locks [--requests 300] -- [serve.php flags]
 *       one session, then --requests concurrent GET /counter with its cookie
 *       (50 at a time, curl): samples /proc/locks for the session file every
 *       few ms and prints which processes held or waited for its flock, and
 *       the count the next visit shows
 *
 * Examples (README.md): php probe.php revive -- --timeout 2 --gc-every 0 --gc-in-requests 1
 *                       php probe.php lifetime -- --timeout 2
 */

declare(strict_types=1);

$what = $argv[1] ?? '';
$sep = array_search('--', $argv, true);
$own = array_slice($argv, 2, $sep === false ? null : $sep - 2);
$serveArgs = $sep === false ? [] : array_slice($argv, $sep + 1);
$opt = function (string $name, string $def) use ($own): string {
    $i = array_search("--$name", $own, true);
    return $i === false ? $def : (string)($own[$i + 1] ?? $def);
};
if (!in_array($what, ['lifetime', 'revive', 'locks'], true)) {
    fwrite(STDERR, "usage: php probe.php lifetime|revive|locks [options] -- [serve.php flags]\n");
    exit(2);
}

// Start serve.php and learn its URL and session directory.
$proc = proc_open(array_merge([PHP_BINARY, __DIR__ . '/serve.php'], $serveArgs),
    [0 => ['file', '/dev/null', 'r'], 1 => ['pipe', 'w'], 2 => ['file', '/dev/null', 'w']], $pipes);
$line = (string)fgets($pipes[1]);
if (!preg_match('~listening on (http://127\.0\.0\.1:[0-9]+/) .* in (/\S+),~', $line, $m)) {
    fwrite(STDERR, "probe.php: serve.php said: $line\n");
    exit(2);
}
[, $url, $dir] = $m;
echo "# ", trim($line), "\n";
stream_set_blocking($pipes[1], false);

function get(string $url, ?string $sid = null): array
{
    $ctx = stream_context_create(['http' => ['header' => $sid === null ? '' : "Cookie: PHPSESSID=$sid\r\n", 'ignore_errors' => true]]);
    $body = (string)file_get_contents($url, false, $ctx);
    foreach ($http_response_header ?? [] as $h) {
        if (preg_match('/^Set-Cookie: PHPSESSID=([^;]*)/i', $h, $c) && $c[1] !== 'deleted') {
            $sid = $c[1];
        }
    }
    return [$body, $sid];
}
function mtime_ns(string $f): ?float
{
    $t = @exec('stat -c %.9Y ' . escapeshellarg($f) . ' 2>/dev/null');
    return $t === '' ? null : (float)$t;
}
function stamp(): string
{
    $t = microtime(true);
    return date('H:i:s', (int)$t) . sprintf('.%03d', (int)(($t - floor($t)) * 1000));
}

switch ($what) {
case 'lifetime':
    $n = (int)$opt('sessions', '10');
    $files = [];
    for ($i = 0; $i < $n; $i++) {
        [, $sid] = get($url);
        $files["$dir/sess_$sid"] = null;
        usleep(100000);
    }
    usleep(200000);   // the session is written when the request ends, after its answer
    $mt = [];
    foreach (array_keys($files) as $f) {
        $mt[$f] = mtime_ns($f);
    }
    while (in_array(null, $files, true)) {
        clearstatcache();
        foreach ($files as $f => $gone) {
            if ($gone === null && !file_exists($f)) {
                $files[$f] = microtime(true);
            }
        }
        usleep(5000);
    }
    foreach ($files as $f => $gone) {
        printf("mtime %.3f  gone %.3f: lived %.3f s after its last write; gone in second mtime + %d\n",
            $mt[$f], $gone, $gone - $mt[$f], (int)floor($gone) - (int)floor($mt[$f]));
    }
    break;

case 'revive':
    $idle = (float)$opt('idle', '3.25');
    [$b, $sid] = get($url . 'counter');
    printf("[%s] %s\n", stamp(), $b);
    [$b] = get($url . 'counter', $sid);
    printf("[%s] %s\n", stamp(), $b);
    usleep(100000);
    printf("[%s] session file sess_%s, mtime %.3f\n", stamp(), $sid, mtime_ns("$dir/sess_$sid"));
    usleep((int)($idle * 1e6) - 100000);
    [$b, $sid2] = get($url . 'counter', $sid);
    usleep(100000);
    printf("[%s] after %.2f s idle: %s (id %s); its file %s\n", stamp(), $idle, $b,
        $sid2 === $sid ? 'the same' : "new: $sid2", file_exists("$dir/sess_$sid") ? 'is there' : 'is gone');
    [$b] = get($url . 'counter', $sid2);
    printf("[%s] next visit: %s\n", stamp(), $b);
    break;

case 'locks':
    $n = (int)$opt('requests', '300');
    [, $sid] = get($url . 'counter');
    $ino = fileinode("$dir/sess_$sid");
    $burst = popen(sprintf('seq %d | xargs -P 50 -I{} curl -s -o /dev/null -b PHPSESSID=%s %scounter', $n, $sid, $url), 'r');
    $seen = [];
    $maxWaiting = 0;
    stream_set_blocking($burst, false);
    while (!feof($burst)) {
        $rows = preg_grep("/:$ino /", file('/proc/locks') ?: []);
        $maxWaiting = max($maxWaiting, count(preg_grep('/->/', $rows)));
        foreach ($rows as $r) {
            if (preg_match('/WRITE\s+([0-9]+)/', $r, $mm)) {
                $seen[$mm[1]] = ($seen[$mm[1]] ?? 0) + 1;
            }
        }
        fread($burst, 8192);
        usleep(3000);
    }
    pclose($burst);
    ksort($seen);
    $master = trim((string)shell_exec('ps -o pid= --ppid ' . proc_get_status($proc)['pid']));
    echo "php -S master $master, its children (workers): ", trim((string)shell_exec("ps -o pid= --ppid $master | tr '\\n' ' '")), "\n";
    echo "processes seen holding or waiting for the session file's flock (samples): ", json_encode($seen), "\n";
    echo "most waiting at once: $maxWaiting\n";
    [$b] = get($url . 'counter', $sid);
    echo "next visit: $b (1 + $n concurrent + this one = ", $n + 2, ")\n";
    break;
}

proc_terminate($proc, SIGTERM);
proc_close($proc);
