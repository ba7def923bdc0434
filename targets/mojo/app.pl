#!/usr/bin/perl
# The seed examples of Twisted Web's session howtos on Mojolicious's built-in
# sessions (Mojolicious 9.31, Debian libmojolicious-perl), a
# Mojolicious::Lite application served by Mojolicious's own
# Mojo::Server::Daemon (one process, one event loop).
#
# Mojolicious::Sessions keeps no state on the server: the session is the
# "mojolicious" cookie itself, the session hash as JSON (padded with "Z" to
# 1025 bytes), Base64 with "=" turned into "-", then "--" and an HMAC-SHA256
# of "mojolicious=<value>" with the application's first secret
# (Mojolicious/Sessions.pm:51-61, Mojolicious/Controller.pm:224-233). Every
# session is Mojolicious's; this program only maps the seed resources onto
# $c->session:
#
#   /          ShowSession: Mojolicious sessions have no id, so the first
#              request that asks for the session stores a random one in it
#              (32 bytes of /dev/urandom as 64 hex digits, as the Flask
#              adapter does with secrets.token_hex) and the page shows it
#   /expire    ExpireSession: $c->session(expires => 1), the way the
#              Mojolicious documentation gives to "Delete whole session by
#              setting an expiration date in the past"
#              (Mojolicious/Sessions.pm:134-135, Mojolicious/Controller.pm:699)
#   /counter   the session-store example: "Visit #N for you!", N kept in the
#              session under "count"
#   /.well-known/sessionspec  the discovery document (never touches the
#              session, so it sets no cookie)
#
# The timeout is Mojolicious's own: $app->sessions->default_expiration set to
# --timeout seconds. Sessions::store writes expires = time + expiration into
# the signed data and as the cookie's expires on every response of a request
# that used the session (Sessions.pm:46-61), and Sessions::load refuses a
# cookie whose expires <= time (Sessions.pm:25). time is Perl's builtin, whole
# seconds. Mojolicious has no expiry notification and no injectable clock, so
# there is no /logme, /expired or /_clock: the discovery document leaves them
# empty and they answer 404.
#
# Settings that are not Mojolicious's defaults, and why (deployment, not
# session behaviour):
#   - secrets: 32 random bytes per start (the default is the application's
#     moniker, which Mojolicious itself warns "needs to be changed",
#     Mojolicious.pm:44-52); cookies of an earlier run are refused.
#   - default_expiration: --timeout (the default is 3600 s).
#   - the log level "warn": in development mode Mojolicious logs every
#     request at "trace"; the suite makes thousands.
# Everything else (cookie_name "mojolicious", path /, HttpOnly, SameSite=Lax,
# no secure, the JSON serializer) is left as Mojolicious sets it.
#
# Usage: perl app.pl [--port P] [--timeout SECONDS]
# Binds 127.0.0.1 (port 0 by default: the kernel picks) and prints
# "listening on http://127.0.0.1:PORT/ ..." on stdout once the socket
# listens. SIGTERM or SIGINT stops the event loop (Mojo::Server::Daemon::run)
# and the program exits 0.

use Mojo::Base -strict, -signatures;

use Getopt::Long qw(GetOptionsFromArray);
use Mojolicious::Lite;
use Mojo::Server::Daemon;

my %opt = (port => 0, timeout => 2);
GetOptionsFromArray(\@ARGV, 'port=i' => \$opt{port}, 'timeout=i' => \$opt{timeout})
  or die "usage: perl app.pl [--port P] [--timeout SECONDS]\n";
die "want 0 <= --port <= 65535 and --timeout >= 1\n" unless $opt{port} >= 0 && $opt{port} <= 65535 && $opt{timeout} >= 1;

sub random_hex ($bytes) {
  open my $fh, '<:raw', '/dev/urandom' or die "/dev/urandom: $!\n";
  my $buf;
  my $got = read $fh, $buf, $bytes;
  die "/dev/urandom: short read\n" unless defined $got && $got == $bytes;
  close $fh;
  return unpack 'H*', $buf;
}

app->log->level('warn');
app->secrets([random_hex(32)]);
app->sessions->default_expiration($opt{timeout});

my $impl = sprintf 'Mojolicious %s (%s) built-in sessions: signed cookie (HMAC-SHA256), default_expiration %d s, '
  . 'expires as whole-second epoch; no expiry notification; Mojo::Server::Daemon, Perl %vd',
  Mojolicious->VERSION, $Mojolicious::CODENAME, $opt{timeout}, $^V;

my %discovery = (
  sessionspec     => 1,
  implementation  => $impl,
  cookie          => app->sessions->cookie_name,
  timeout_seconds => $opt{timeout} + 0,
  paths           => {session => '/', expire => '/expire', logme => '', expired => '', counter => '/counter', clock => ''},
);

# Twisted's request.getSession(): the session, made on first use. A session
# Mojolicious could not load (no cookie, a bad signature, an expires in the
# past) is an empty hash here.
helper current_session => sub ($c) {
  $c->session(id => random_hex(32)) unless defined $c->session('id');
  return $c->session;
};

get '/' => sub ($c) {
  $c->render(text => 'Your session id is: ' . $c->current_session->{id});
};

get '/expire' => sub ($c) {
  $c->session(expires => 1);
  $c->render(text => 'Your session has been expired.', format => 'txt');
};

get '/counter' => sub ($c) {
  my $s = $c->current_session;
  $s->{count} = ($s->{count} // 0) + 1;
  $c->render(text => "Visit #$s->{count} for you!", format => 'txt');
};

get '/.well-known/sessionspec' => sub ($c) {
  $c->render(json => \%discovery);
};

my $daemon = Mojo::Server::Daemon->new(app => app, listen => ["http://127.0.0.1:$opt{port}"], silent => 1);
$daemon->start;
$| = 1;
printf "listening on http://127.0.0.1:%d/ : %s (session timeout %d s)\n", $daemon->ports->[0], $impl, $opt{timeout};
$daemon->run;
print "stopped\n";
exit 0;
