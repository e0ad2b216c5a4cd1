/* floor: the cheapest possible "DNS server", to show what the kernel allows on this machine.
 *
 * One thread, one UDP socket: read up to BATCH datagrams with one recvmmsg, set the QR bit
 * of each, and send them all back with one sendmmsg. No parsing, no lookup: every real
 * server pays this system-call and network-stack cost plus its own work, so the floor's CPU
 * per query is the part of every other server's figure that no server code can remove.
 *
 * build: gcc -O2 -o floor floor.c
 * usage: floor ADDR PORT [BATCH=32]
 * Runs until killed (SIGTERM or SIGINT end it).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAXBATCH 256
#define BUF 4096

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s ADDR PORT [BATCH]\n", argv[0]);
    return 2;
  }
  int batch = argc > 3 ? atoi(argv[3]) : 32;
  if (batch < 1 || batch > MAXBATCH) batch = 32;
  int port = atoi(argv[2]);
  struct sockaddr_storage ss;
  socklen_t sl;
  memset(&ss, 0, sizeof ss);
  int fam = strchr(argv[1], ':') ? AF_INET6 : AF_INET;
  if (fam == AF_INET) {
    struct sockaddr_in *a = (struct sockaddr_in *)&ss;
    a->sin_family = AF_INET;
    a->sin_port = htons((unsigned short)port);
    if (inet_pton(AF_INET, argv[1], &a->sin_addr) != 1) { fprintf(stderr, "bad address\n"); return 2; }
    sl = sizeof *a;
  } else {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons((unsigned short)port);
    if (inet_pton(AF_INET6, argv[1], &a->sin6_addr) != 1) { fprintf(stderr, "bad address\n"); return 2; }
    sl = sizeof *a;
  }
  int fd = socket(fam, SOCK_DGRAM, 0);
  if (fd < 0) { perror("socket"); return 1; }
  int buf = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
  if (bind(fd, (struct sockaddr *)&ss, sl)) { perror("bind"); return 1; }

  static char bufs[MAXBATCH][BUF];
  static struct sockaddr_storage from[MAXBATCH];
  static struct mmsghdr msgs[MAXBATCH];
  static struct iovec iov[MAXBATCH];
  for (;;) {
    for (int i = 0; i < batch; i++) {
      iov[i].iov_base = bufs[i];
      iov[i].iov_len = BUF;
      memset(&msgs[i].msg_hdr, 0, sizeof msgs[i].msg_hdr);
      msgs[i].msg_hdr.msg_name = &from[i];
      msgs[i].msg_hdr.msg_namelen = sizeof from[i];
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    /* Block for the first datagram, then take whatever else is already queued. */
    int n = recvmmsg(fd, msgs, (unsigned)batch, MSG_WAITFORONE, NULL);
    if (n < 0) {
      if (errno == EINTR) continue;
      perror("recvmmsg");
      return 1;
    }
    int m = 0;
    for (int i = 0; i < n; i++) {
      if (msgs[i].msg_len < 12) continue; /* not even a DNS header: drop */
      bufs[i][2] |= (char)0x80;           /* QR: this is a response */
      iov[i].iov_len = msgs[i].msg_len;
      if (m != i) {                       /* close the gap left by a dropped datagram */
        msgs[m] = msgs[i];
      }
      msgs[m].msg_hdr.msg_iov = &iov[i];
      m++;
    }
    int off = 0;
    while (off < m) { /* a partial send is retried from where it stopped */
      int r = sendmmsg(fd, msgs + off, (unsigned)(m - off), 0);
      if (r < 0) {
        if (errno == EINTR) continue;
        break; /* ENOBUFS and friends: drop the rest, as a busy server would */
      }
      off += r;
    }
  }
}
