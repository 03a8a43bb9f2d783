#!/usr/bin/perl
# spec/support/relay.pl: a man in the middle for the specs, run as a
# command transport: relays stdin/stdout to HOST:PORT, and right after
# the server's first line writes the extra lines given on the command
# line (CRLF added), as an attacker on a plaintext link could.
#   perl relay.pl HOST PORT ["* OK [ALERT] text" ...]
use strict;
use warnings;
use IO::Socket::INET;
use IO::Select;

my ($host, $port, @inject) = @ARGV;
my $sock = IO::Socket::INET->new(PeerAddr => $host, PeerPort => $port,
  Proto => 'tcp') or die "relay: cannot connect: $!\n";
binmode STDIN; binmode STDOUT; binmode $sock;
STDOUT->autoflush(1);

# The greeting, byte by byte up to its LF, then the injected lines.
my $line = '';
while ($line !~ /\n\z/) {
  my $n = sysread($sock, my $c, 1);
  exit 0 unless $n;
  $line .= $c;
}
syswrite(STDOUT, $line . join('', map { "$_\r\n" } @inject));

my $sel = IO::Select->new(\*STDIN, $sock);
while (my @ready = $sel->can_read) {
  for my $fh (@ready) {
    my $n = sysread($fh, my $buf, 65536);
    exit 0 unless $n;
    my $to = $fh == $sock ? \*STDOUT : $sock;
    my $off = 0;
    while ($off < $n) {
      my $w = syswrite($to, $buf, $n - $off, $off);
      exit 0 unless defined $w;
      $off += $w;
    }
  }
}
