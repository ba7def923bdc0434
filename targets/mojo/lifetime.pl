#!/usr/bin/perl
# Measures when Mojolicious stops accepting a session cookie (evidence for
# targets/mojo/README.md), as targets/flask/lifetime.py does for Flask.
#
# Starts targets/mojo/app.pl on a free port, makes --sessions new sessions (a
# GET / each, a random fraction of a second apart) and, for each, sends the
# cookie of that first response again every --poll seconds, never the
# refreshed one, until the page shows a different id. Mojolicious keeps no
# state on the server, so these probes do not change when the first cookie
# stops being accepted. For each session it prints the whole-second "expires"
# Mojolicious put inside the signed cookie, when the response arrived (its
# second modulo 1000), and when the cookie was last accepted (the time that
# request was sent: the server looked after it) and first refused (the time
# that answer arrived: the server looked before it), relative to that
# response and, in brackets, to the expires epoch.
#
#   perl targets/mojo/lifetime.pl [--timeout 2] [--sessions 10] [--poll 0.01]

use Mojo::Base -strict, -signatures;

use FindBin;
use Getopt::Long qw(GetOptions);
use IPC::Open3 qw(open3);
use Mojo::JSON qw(decode_json);
use Mojo::UserAgent;
use Mojo::Util qw(b64_decode);
use Symbol qw(gensym);
use Time::HiRes qw(sleep time);

my %opt = (timeout => 2, sessions => 10, poll => 0.01);
GetOptions('timeout=i' => \$opt{timeout}, 'sessions=i' => \$opt{sessions}, 'poll=f' => \$opt{poll}) or die "bad arguments\n";

my $pid = open3(my $in, my $out, undef, $^X, "$FindBin::Bin/app.pl", '--port', 0, '--timeout', $opt{timeout});
my $base;
while (my $line = <$out>) {
  if ($line =~ m{listening on (http://127\.0\.0\.1:\d+/)}) { $base = $1; last }
}
die "app.pl did not announce its URL\n" unless $base;

my $ua = Mojo::UserAgent->new(cookie_jar => Mojo::UserAgent::CookieJar->new(ignore => sub {1}));

sub visit ($cookie) {
  my $tx = $ua->get($base => ($cookie ? {Cookie => "mojolicious=$cookie"} : {}));
  my ($id) = ($tx->res->body =~ /Your session id is: (\S+)/);
  my ($set) = grep { $_->name eq 'mojolicious' } @{$tx->res->cookies};
  return ($id, $set ? $set->value : undef);
}

printf "timeout %d s, %d sessions, poll %.3f s\n", $opt{timeout}, $opt{sessions}, $opt{poll};
printf "%-3s %-12s %-9s %-22s %-22s %s\n", '#', 'answered', 'expires', 'last accepted', 'first refused', 'lifetime';
my ($min, $max);
for my $n (1 .. $opt{sessions}) {
  sleep rand 1;
  my ($id, $cookie) = visit(undef);
  my $answered = time;
  my ($payload) = ($cookie =~ /^(.*)--[^\-]+$/);
  (my $b64 = $payload) =~ y/-/=/;
  my $expires = decode_json(b64_decode($b64) =~ s/\}\KZ*$//r)->{expires};
  my ($last, $first);
  while (1) {
    my $sent = time;
    my ($again) = visit($cookie);
    my $back = time;
    if (defined $again && $again eq $id) { $last = $sent; sleep $opt{poll}; next }
    $first = $back;
    last;
  }
  my $life = $first - $answered;
  $min = $life if !defined $min || $life < $min;
  $max = $life if !defined $max || $life > $max;
  printf "%-3d %-12.3f %-9d %+8.3f s (%+.3f)     %+8.3f s (%+.3f)     %.3f s (T %+.3f)\n", $n, $answered - int($answered / 1000) * 1000,
    $expires, $last - $answered, $last - $expires, $first - $answered, $first - $expires, $life, $life - $opt{timeout};
}
printf "lifetime of a cookie, from its answer to the answer of its first refusal: %.3f .. %.3f s (timeout %d s)\n", $min, $max, $opt{timeout};
kill 'TERM', $pid;
waitpid $pid, 0;
