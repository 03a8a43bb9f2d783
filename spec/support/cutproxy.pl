#!/usr/bin/perl
# spec/support/cutproxy.pl: a loopback TCP proxy for the specs that cuts
# the first connection at a chosen IMAP command boundary (RFC 9051:
# commands are tagged lines, literals {n} / {n+} are bytes, not lines).
#   perl cutproxy.pl HOST PORT LOG MODE N STRIP
# MODE "before": closes before the client's Nth command reaches the server;
# "after": right after it has been forwarded; "reply": when the server's
# tagged reply to it arrives, before the client sees it. N = 0 never cuts.
# STRIP = 1 removes MOVE from CAPABILITY responses. Prints "PORT PID" and
# appends "conn I cmd K TAG VERB", "conn I cut K" and "conn I drained"
# lines to LOG. Later connections are relayed without cuts.
use strict;
use warnings;
use IO::Socket::INET;
use IO::Select;
use Socket qw(SHUT_WR);
use POSIX ();

my ($host, $port, $logfile, $mode, $cut_at, $strip) = @ARGV;
die "usage: cutproxy.pl HOST PORT LOG MODE N STRIP\n" unless defined $strip;

my $listen = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
  Listen => 16, ReuseAddr => 1, Proto => 'tcp') or die "cutproxy: $!\n";
$| = 1;
print $listen->sockport, " $$\n";
close STDOUT;

my @children;
$SIG{TERM} = sub { kill 'TERM', @children; exit 0 };
$SIG{CHLD} = sub { 1 while waitpid(-1, POSIX::WNOHANG()) > 0 };

my $conn_no = 0;
while (1) {
  my $client = $listen->accept or next;
  $conn_no++;
  my $pid = fork;
  die "cutproxy: fork: $!\n" unless defined $pid;
  if ($pid == 0) {
    $SIG{TERM} = 'DEFAULT';
    close $listen;
    relay($client, $conn_no, $conn_no == 1 ? $cut_at : 0);
    POSIX::_exit(0);
  }
  push @children, $pid;
  close $client;
}

sub note {
  open(my $fh, '>>', $logfile) or return;
  print $fh @_, "\n";
  close $fh;
}

sub send_all {
  my ($fh, $data) = @_;
  my $off = 0;
  while ($off < length $data) {
    my $w = syswrite($fh, $data, length($data) - $off, $off);
    return 0 unless defined $w;
    $off += $w;
  }
  return 1;
}

# The cut: the client's side closes at once; the server's side is shut
# for writing and read to its end, so that whatever the server was doing
# is finished (and logged as drained) before the spec tries again.
sub cut {
  my ($id, $n, $client, $server) = @_;
  note("conn $id cut $n");
  close $client;
  shutdown($server, SHUT_WR);
  my $sel = IO::Select->new($server);
  while ($sel->can_read(30)) {
    my $got = sysread($server, my $buf, 65536);
    last unless $got;
  }
  close $server;
  note("conn $id drained");
  POSIX::_exit(0);
}

sub relay {
  my ($client, $id, $n_cut) = @_;
  my $server = IO::Socket::INET->new(PeerAddr => $host, PeerPort => $port,
    Proto => 'tcp') or return;
  binmode $client; binmode $server;
  # Client side: unparsed bytes, literal bytes still to pass, whether the
  # next line continues a command (after a literal), commands seen.
  my ($cbuf, $clit, $cont, $n, $cur) = ('', 0, 0, 0, 0);
  # Server side: unparsed bytes, literal bytes still to pass, the tag
  # whose tagged reply cuts ("reply" mode).
  my ($sbuf, $slit, $want) = ('', 0, undef);
  my $sel = IO::Select->new($client, $server);
  while (my @ready = $sel->can_read) {
    for my $fh (@ready) {
      my $got = sysread($fh, my $data, 65536);
      return unless $got;
      if ($fh == $client) {
        $cbuf .= $data;
        while (length $cbuf) {
          if ($clit > 0) {
            my $take = $clit < length $cbuf ? $clit : length $cbuf;
            return unless send_all($server, substr($cbuf, 0, $take, ''));
            $clit -= $take;
            next;
          }
          my $i = index($cbuf, "\n");
          last if $i < 0;
          my $line = substr($cbuf, 0, $i + 1, '');
          # SASL responses, DONE and * carry no "tag SP word".
          if (!$cont && $line =~ /^(\S+) ((?:UID )?[A-Za-z]+)/i) {
            $cur = ++$n;
            note("conn $id cmd $n $1 " . uc $2);
            cut($id, $n, $client, $server)
              if $n == $n_cut && $mode eq 'before';
            $want = $1 if $n == $n_cut && $mode eq 'reply';
          }
          return unless send_all($server, $line);
          if ($line =~ /\{(\d+)\+?\}\r?\n\z/) {
            ($clit, $cont) = ($1, 1);
          } else {
            $cont = 0;
            cut($id, $cur, $client, $server)
              if $cur == $n_cut && $mode eq 'after';
          }
        }
      } else {
        $sbuf .= $data;
        while (length $sbuf) {
          if ($slit > 0) {
            my $take = $slit < length $sbuf ? $slit : length $sbuf;
            return unless send_all($client, substr($sbuf, 0, $take, ''));
            $slit -= $take;
            next;
          }
          my $i = index($sbuf, "\n");
          last if $i < 0;
          my $line = substr($sbuf, 0, $i + 1, '');
          if ($strip && $line =~ /^(?:\* CAPABILITY |\S+ OK \[CAPABILITY )/) {
            $line =~ s/ MOVE(?=[ \]\r\n])//g;
          }
          cut($id, $n_cut, $client, $server)
            if defined $want && $line =~ /^\Q$want\E /;
          return unless send_all($client, $line);
          $slit = $1 if $line =~ /\{(\d+)\}\r?\n\z/;
        }
      }
    }
  }
}
