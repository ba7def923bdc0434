<?php
/*
 * The seed examples of Twisted Web's session howtos on PHP's native sessions
 * (ext/session, the "files" save handler), served by PHP's built-in server
 * (php -S, started by serve.php with this file as its router script). Every
 * session is PHP's: its id made, read, locked, written, collected and
 * destroyed by ext/session. This file only maps the seed resources onto
 * PHP's session API:
 *
 *   /          ShowSession: session_start(); "Your session id is: " . session_id()
 *   /expire    ExpireSession: session_start(), then PHP's manual's way to end
 *              a session (the session_destroy() page, example #1): empty
 *              $_SESSION, delete the cookie with setcookie(session_name(), '',
 *              time() - 42000, <the session cookie's parameters>), session_destroy()
 *   /counter   the session-store example: $_SESSION['count'], one more per visit
 *   /.well-known/sessionspec  the discovery document
 *
 * Not served: /logme and /expired (PHP runs nothing when a session times out:
 * the files handler's garbage collection unlinks old files, PS_GC_FUNC(files)
 * in ext/session/mod_files.c, and tells no one which), and /_clock (PHP reads
 * time(NULL) and the files' mtime; no clock can be injected). The discovery
 * document gives their paths as "", so the cases that need them are not
 * applicable. No adapter code emulates an expiry hook.
 *
 * Every session setting comes from serve.php's -d flags (session.gc_maxlifetime
 * is the timeout); this file reads them back with ini_get() for the discovery
 * document and sets none. Garbage collection (when a timed-out session's file
 * is deleted) is serve.php's periodic session_gc(), see there.
 *
 * session_start()'s result is not checked, as in the manual's examples: when
 * it fails (a cookie whose value the files handler refuses, e.g.
 * "../../../etc/passwd") the page shows an empty id and no cookie is set.
 */

declare(strict_types=1);

function answer(int $status, string $body, string $type = 'text/plain; charset=utf-8'): void
{
    http_response_code($status);
    header('Content-Type: ' . $type);
    echo $body;
}

$method = $_SERVER['REQUEST_METHOD'] ?? 'GET';
$path = parse_url($_SERVER['REQUEST_URI'] ?? '/', PHP_URL_PATH);
if (!is_string($path) || $path === '') {
    $path = '/';
}

$routes = ['/', '/expire', '/counter', '/.well-known/sessionspec'];
if (!in_array($path, $routes, true)) {
    answer(404, "not found\n");
    return true;
}
// The seed's resources render GET only (Twisted's render_GET; HEAD is a GET
// without its body, which php -S drops itself).
if ($method !== 'GET' && $method !== 'HEAD') {
    header('Allow: GET, HEAD');
    answer(405, "method not allowed\n");
    return true;
}

switch ($path) {
case '/':
    session_start();
    answer(200, 'Your session id is: ' . session_id());
    break;

case '/expire':
    // request.getSession().expire(): the session of this request (made if it
    // has none, as getSession does), then ended as PHP's manual says.
    session_start();
    $_SESSION = [];
    if (ini_get('session.use_cookies')) {
        $params = session_get_cookie_params();
        setcookie(session_name(), '', [
            'expires' => time() - 42000,
            'path' => $params['path'],
            'domain' => $params['domain'],
            'secure' => $params['secure'],
            'httponly' => $params['httponly'],
            'samesite' => $params['samesite'],
        ]);
    }
    session_destroy();
    answer(200, 'Your session has been expired.');
    break;

case '/counter':
    // The files handler holds an exclusive flock on the session file from
    // session_start() until the session is written and closed at the end of
    // the request (mod_files.c, ps_files_open), so this read-add-write is
    // one at a time per session, whichever worker runs it.
    session_start();
    $n = (int)($_SESSION['count'] ?? 0) + 1;
    $_SESSION['count'] = $n;
    answer(200, "Visit #$n for you!");
    break;

case '/.well-known/sessionspec':
    $timeout = (int)ini_get('session.gc_maxlifetime');
    $strict = (bool)ini_get('session.use_strict_mode');
    $doc = [
        'sessionspec' => 1,
        'implementation' => sprintf(
            'PHP %s ext/session, files save handler (php -S, %s workers; session.gc_maxlifetime %d s, %s; use_strict_mode %d)',
            PHP_VERSION,
            getenv('PHP_CLI_SERVER_WORKERS') ?: '1',
            $timeout,
            getenv('SESSIONSPEC_GC') ?: 'GC as php.ini says',
            $strict ? 1 : 0
        ),
        'cookie' => session_name(),
        'timeout_seconds' => $timeout,
        'paths' => [
            'session' => '/',
            'expire' => '/expire',
            'logme' => '',
            'expired' => '',
            'counter' => '/counter',
        ],
    ];
    answer(200, json_encode($doc, JSON_UNESCAPED_SLASHES) . "\n", 'application/json');
    break;
}
return true;
