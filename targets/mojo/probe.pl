#!/usr/bin/perl
# By-hand evidence for targets/mojo/README.md, in process (each application
# served by Mojo::UserAgent's own test server on a 127.0.0.1 port the kernel
# picks, the way Test::Mojo does it): what Mojolicious::Sessions does with the settings the adapter did
# NOT choose, and what it keeps in the cookie. Not part of the check.
#
# The probes that move time replace Perl's builtin time for this process
# only (CORE::GLOBAL::time, installed before Mojolicious is loaded, so that
# Mojolicious/Sessions.pm:25, 49 read it): $NOW, whole seconds, as the
# builtin gives them. Mojolicious itself has no clock hook; the adapter
# (app.pl) does not do this and runs on the wall clock.
#
#   perl targets/mojo/probe.pl [noid defaults forever secret expire]   (all when none is named)

use strict;
use warnings;

our $NOW;
BEGIN { *CORE::GLOBAL::time = sub () { defined $NOW ? $NOW : CORE::time() } }

use Mojo::Base -strict, -signatures;
use Mojo::JSON qw(decode_json);
use Mojo::Util qw(b64_decode b64_encode);
use Digest::SHA qw(hmac_sha256_hex);
use Mojolicious;
use Mojo::UserAgent;

# The session data inside a "mojolicious" cookie value (it is only signed,
# not encrypted: anyone holding the cookie can read it).
sub payload ($value) {
  my ($data) = ($value =~ /^(.*)--[^\-]+$/) or return '(not signed)';
  $data =~ y/-/=/;
  return b64_decode($data) =~ s/\}\KZ*$//r;
}

# A client: a user agent serving $app, with no cookie jar (each request
# carries exactly the cookie it is given), and its last transaction.
sub client ($app) {
  my $ua = Mojo::UserAgent->new(cookie_jar => Mojo::UserAgent::CookieJar->new(ignore => sub {1}));
  $ua->server->app($app);
  return {ua => $ua};
}

sub get ($t, $path, $cookie = undef) {
  $t->{tx} = $t->{ua}->get($path => ($cookie ? {Cookie => "mojolicious=$cookie"} : {}));
  return $t->{tx}->res->body;
}

sub cookie_of ($t) {
  my ($c) = grep { $_->name eq 'mojolicious' } @{$t->{tx}->res->cookies};
  return $c;
}

sub set_cookie_line ($t) {
  join ' | ', map { s/^(mojolicious=.{24}).*?(--.{8}).*?(;.*)$/$1...$2...$3/r }
    grep {/^mojolicious=/} @{$t->{tx}->res->headers->every_header('Set-Cookie')};
}

# A Mojolicious application with the seed's counter and nothing else: no id
# stored by the application (Mojolicious sessions have none of their own).
sub counter_app (%set) {
  my $app = Mojolicious->new;
  $app->log->level('fatal');
  $app->secrets([$set{secret}]) if defined $set{secret};
  $app->sessions->default_expiration($set{expiration}) if defined $set{expiration};
  $app->routes->get('/counter' => sub ($c) { $c->session->{count}++; $c->render(text => "Visit #$c->{stash}{'mojo.session'}{count}") });
  $app->routes->get('/peek'    => sub ($c) { $c->render(text => 'count ' . ($c->session('count') // 'none')) });
  $app->routes->get('/expire'  => sub ($c) { $c->session(expires => 1); $c->render(text => 'expired') });
  return $app;
}

my %probe;

# Two clients, one second: no id, so equal data gives byte-equal cookies.
$probe{noid} = sub {
  my $app = counter_app(secret => 'probe-secret');
  local $NOW = 1_700_000_000;
  my ($a, $b) = (client($app), client($app));
  get($a, '/counter');
  my $ca = cookie_of($a)->value;
  get($b, '/counter');
  my $cb = cookie_of($b)->value;
  say "noid: alice's first /counter -> payload ", payload($ca);
  say "noid: bob's first /counter, same second -> payload ", payload($cb);
  say "noid: the two cookies are ", ($ca eq $cb ? 'IDENTICAL' : 'different'), ' (', length($ca), ' bytes)';
  my $t = client($app);
  get($t, '/peek');
  say "noid: a request that only reads the (empty) session sets ", (cookie_of($t) ? 'a cookie' : 'no cookie');
};

# Mojolicious's own defaults: default_expiration 3600 s, the secret is the moniker.
$probe{defaults} = sub {
  my $app = counter_app();
  say "defaults: default_expiration ", $app->sessions->default_expiration, " s, cookie_name ", $app->sessions->cookie_name,
    ", samesite ", $app->sessions->samesite // 'undef', ", secrets [", join(',', @{$app->secrets}), "] (the moniker)";
  local $NOW = 1_700_000_000;
  my $t = client($app);
  get($t, '/counter');
  my $c = cookie_of($t)->value;
  say "defaults: Set-Cookie ", set_cookie_line($t);
  for my $after (3599, 3600) {
    local $NOW = 1_700_000_000 + $after;
    say "defaults: its cookie replayed ${after} s later -> ", get(client($app), '/counter', $c);
  }
};

# default_expiration 0: "persist until the browser window is closed" (Sessions.pm:124-126): no
# expires in the cookie, and nothing on the server ever refuses it (Sessions.pm:24-25).
$probe{forever} = sub {
  my $app = counter_app(secret => 'probe-secret', expiration => 0);
  local $NOW = 1_700_000_000;
  my $t = client($app);
  get($t, '/counter');
  my $c = cookie_of($t)->value;
  say "forever: Set-Cookie ", set_cookie_line($t), " payload ", payload($c);
  local $NOW = 1_700_000_000 + 10 * 365 * 86400;
  say "forever: its cookie replayed 10 years later -> ", get(client($app), '/counter', $c);
};

# The default secret is public (the moniker): anyone can sign a session of their choosing.
$probe{secret} = sub {
  my $app = counter_app();
  my $secret = $app->secrets->[0];
  my $json = Mojo::JSON::encode_json({count => 41, expires => CORE::time() + 3600});
  (my $value = b64_encode($json . 'Z' x (1025 - length $json), '')) =~ y/=/-/;
  my $forged = "$value--" . hmac_sha256_hex("mojolicious=$value", $secret);
  say "secret: a cookie made outside the application, signed with the moniker \"$secret\" -> ", get(client($app), '/counter', $forged);
  my $own = counter_app(secret => 'another-secret');
  say "secret: the same cookie against an application with its own secret -> ", get(client($own), '/counter', $forged);
};

# /expire as the adapter does it, and a replay of the cookie held before it.
$probe{expire} = sub {
  my $app = counter_app(secret => 'probe-secret', expiration => 2);
  local $NOW = 1_700_000_000;
  my $t = client($app);
  get($t, '/counter');
  my $c1 = cookie_of($t)->value;
  get($t, '/counter', $c1);
  my $c2 = cookie_of($t)->value;
  get($t, '/expire', $c2);
  my $gone = cookie_of($t);
  say "expire: Set-Cookie ", set_cookie_line($t), " payload ", payload($gone->value);
  say "expire: the /expire cookie itself replayed -> ", get(client($app), '/peek', $gone->value);
  say "expire: the cookie held before /expire replayed at once -> ", get(client($app), '/counter', $c2);
  local $NOW = 1_700_000_001;
  say "expire: ... 1 s later -> ", get(client($app), '/counter', $c2);
  local $NOW = 1_700_000_002;
  say "expire: ... 2 s later (its own expires) -> ", get(client($app), '/counter', $c2);
};

my @which = @ARGV ? @ARGV : qw(noid defaults forever secret expire);
for my $name (@which) {
  die "unknown probe $name (one of: @{[sort keys %probe]})\n" unless $probe{$name};
  $probe{$name}->();
}
