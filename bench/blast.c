/* blast: a closed-loop DNS-over-UDP load generator for loopback benchmarks.
 *
 * Cheap enough per query to saturate a one-core server from one other core: queries are
 * encoded once up front, sent and received in batches (sendmmsg/recvmmsg) over several
 * connected non-blocking sockets, and a reply is only checked for its ID, flags and rcode.
 * Each socket keeps at most WINDOW queries in flight; a query unanswered after the timeout
 * (1 s) is lost. Optionally paced to a rate, so latency can be measured below saturation
 * (at saturation a closed loop measures mostly its own queue: latency ~ in-flight / QPS).
 *
 * build: gcc -O2 -o blast blast.c
 * usage: blast [-s SOCKETS] [-w WINDOW] [-r QPS] [-t TIMEOUT_MS] [-e] [-d] ADDR PORT QUERYFILE SECONDS
 *   QUERYFILE  one query a line: NAME TYPE [ADDR/PREFIX]; the optional third field is an
 *              EDNS Client Subnet (RFC 7871), sent in an OPT record (UDP size 1232) with
 *              source prefix PREFIX, scope 0 and the address cut to ceil(PREFIX/8) octets.
 *              Lines without it carry no OPT record, unless -e (plain EDNS on every query).
 *              Blank lines and lines starting with # or ; are skipped. Queries are sent in
 *              file order, cycling.
 *   -s 4       UDP sockets (distinct source ports, so SO_REUSEPORT servers spread them)
 *   -w 32      queries in flight per socket
 *   -r 0       pace to this many queries per second in total (0: as fast as answered)
 *   -t 1000    milliseconds after which an unanswered query counts as lost
 *   -e         EDNS (OPT, UDP size 1232) on queries that have no subnet too
 *   -d         DNSSEC OK (the DO bit) in the OPT record of every query (implies -e)
 * Sends for SECONDS, then waits up to the timeout for the replies still in flight; a hard
 * alarm ends the process at SECONDS + timeout + 5 s whatever happens.
 * prints one line:
 *   qps= sent= recv= lost= noerror= nxdomain= rcode_err= tc= bad= late= avg_us= p50_us=
 *   p99_us= p999_us= max_us= secs= cpu_s=
 *   qps       replies received while sending, per second of sending
 *   recv      every reply matched to a query in flight; noerror + nxdomain are the good ones,
 *             rcode_err any other rcode (SERVFAIL, REFUSED, FORMERR...), tc replies with TC=1
 *   bad       datagrams that were not a reply to our query (short, QR clear, wrong question count)
 *   late      replies to queries already written off as lost
 *   p50/p99/p999  latency percentiles of received replies, from a log-linear histogram
 *             (64 sub-buckets per power of two of nanoseconds: within 1.6 %)
 *   cpu_s     this process's own CPU time (user + system), so the caller can tell what else
 *             was busy during the run
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64     /* datagrams per sendmmsg/recvmmsg */
#define PKT 512      /* largest query we build */
#define RBUF 1500    /* largest reply we read (TC replies and EDNS answers fit) */
#define EDNS_SIZE 1232

static int dnssec_ok = 0; /* -d: the DO bit in every OPT record */

/* ---- latency histogram: log-linear over nanoseconds ---- */
#define SUB_BITS 6
#define SUB (1 << SUB_BITS)
#define NBUCKETS ((64 - SUB_BITS) * SUB + SUB)
static uint64_t hist[NBUCKETS];

static int bucket_of(uint64_t v) {
  if (v < 2 * SUB) return (int)v; /* exact below 128 ns */
  int msb = 63 - __builtin_clzll(v);
  int shift = msb - SUB_BITS;
  return (shift + 1) * SUB + (int)((v >> shift) - SUB);
}
/* Middle of a bucket's range, in ns. */
static double bucket_mid(int b) {
  if (b < 2 * SUB) return b;
  int shift = b / SUB - 1;
  uint64_t lo = (uint64_t)(b % SUB + SUB) << shift;
  return (double)lo + (double)((1ull << shift) - 1) / 2.0;
}
static double percentile_us(uint64_t total, double q) {
  if (!total) return 0;
  uint64_t rank = (uint64_t)(q * (double)total);
  if (rank >= total) rank = total - 1;
  uint64_t seen = 0;
  for (int b = 0; b < NBUCKETS; b++) {
    seen += hist[b];
    if (seen > rank) return bucket_mid(b) / 1000.0;
  }
  return 0;
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int qtype_of(const char *t) {
  static const struct { const char *n; int v; } types[] = {
    {"A", 1}, {"NS", 2}, {"CNAME", 5}, {"SOA", 6}, {"PTR", 12}, {"MX", 15}, {"TXT", 16},
    {"AAAA", 28}, {"SRV", 33}, {"DS", 43}, {"DNSKEY", 48}, {"HTTPS", 65}, {"CAA", 257}, {"ANY", 255}};
  for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
    if (!strcasecmp(t, types[i].n)) return types[i].v;
  if (!strncasecmp(t, "TYPE", 4)) return atoi(t + 4);
  return atoi(t);
}

/* Encodes one query; returns its length, or -1 with a message. */
static int encode(uint8_t *p, const char *name, const char *type, const char *subnet, int edns,
                  int lineno) {
  int qtype = qtype_of(type);
  if (qtype <= 0 || qtype > 65535) {
    fprintf(stderr, "line %d: unknown type %s\n", lineno, type);
    return -1;
  }
  memset(p, 0, 12);
  p[5] = 1; /* QDCOUNT 1; flags 0 (no RD: we ask an authoritative server) */
  int o = 12;
  const char *s = name;
  while (*s && !(s[0] == '.' && s[1] == 0)) {
    const char *dot = strchr(s, '.');
    int len = dot ? (int)(dot - s) : (int)strlen(s);
    if (len == 0 || len > 63 || o + len + 1 > 12 + 255) {
      fprintf(stderr, "line %d: bad name %s\n", lineno, name);
      return -1;
    }
    p[o++] = (uint8_t)len;
    memcpy(p + o, s, (size_t)len);
    o += len;
    s += len + (dot ? 1 : 0);
    if (!dot) break;
  }
  p[o++] = 0;
  p[o++] = (uint8_t)(qtype >> 8);
  p[o++] = (uint8_t)qtype;
  p[o++] = 0;
  p[o++] = 1; /* class IN */
  if (!subnet && !edns) return o;

  /* OPT RR: root owner, type 41, class = UDP payload size, TTL: extended rcode 0, version
   * 0, flags (DO with -d), then RDATA. */
  p[11] = 1; /* ARCOUNT 1 */
  p[o++] = 0;
  p[o++] = 0; p[o++] = 41;
  p[o++] = EDNS_SIZE >> 8; p[o++] = EDNS_SIZE & 0xff;
  p[o++] = 0; p[o++] = 0; p[o++] = dnssec_ok ? 0x80 : 0; p[o++] = 0;
  if (!subnet) {
    p[o++] = 0; p[o++] = 0; /* RDLEN 0 */
    return o;
  }
  char addr[64];
  const char *slash = strchr(subnet, '/');
  if (!slash || (size_t)(slash - subnet) >= sizeof addr) {
    fprintf(stderr, "line %d: subnet %s is not ADDR/PREFIX\n", lineno, subnet);
    return -1;
  }
  memcpy(addr, subnet, (size_t)(slash - subnet));
  addr[slash - subnet] = 0;
  int prefix = atoi(slash + 1);
  uint8_t raw[16];
  int family, max;
  if (inet_pton(AF_INET, addr, raw) == 1) family = 1, max = 32;
  else if (inet_pton(AF_INET6, addr, raw) == 1) family = 2, max = 128;
  else {
    fprintf(stderr, "line %d: bad address %s\n", lineno, addr);
    return -1;
  }
  if (prefix < 0 || prefix > max) {
    fprintf(stderr, "line %d: bad prefix length in %s\n", lineno, subnet);
    return -1;
  }
  int nbytes = (prefix + 7) / 8;
  /* RFC 7871 6: bits past the source prefix must be zero. */
  if (prefix % 8) raw[nbytes - 1] &= (uint8_t)(0xff << (8 - prefix % 8));
  int optlen = 4 + nbytes;
  p[o++] = 0; p[o++] = (uint8_t)(4 + optlen); /* RDLEN */
  p[o++] = 0; p[o++] = 8;                     /* OPTION-CODE 8: CLIENT-SUBNET */
  p[o++] = 0; p[o++] = (uint8_t)optlen;
  p[o++] = 0; p[o++] = (uint8_t)family;
  p[o++] = (uint8_t)prefix;
  p[o++] = 0; /* SCOPE PREFIX-LENGTH: 0 in queries */
  memcpy(p + o, raw, (size_t)nbytes);
  o += nbytes;
  return o;
}

struct sockstate {
  int fd;
  uint16_t next_id;
  int inflight;
  uint64_t *sent_at; /* per ID: send time, 0 = free */
};

static void usage(const char *argv0) {
  fprintf(stderr,
          "usage: %s [-s SOCKETS] [-w WINDOW] [-r QPS] [-t TIMEOUT_MS] [-e] [-d] ADDR PORT QUERYFILE SECONDS\n",
          argv0);
  exit(2);
}

int main(int argc, char **argv) {
  int nsock = 4, window = 32, edns = 0, opt;
  double rate = 0, timeout_ms = 1000;
  while ((opt = getopt(argc, argv, "s:w:r:t:ed")) != -1) {
    switch (opt) {
    case 's': nsock = atoi(optarg); break;
    case 'w': window = atoi(optarg); break;
    case 'r': rate = atof(optarg); break;
    case 't': timeout_ms = atof(optarg); break;
    case 'e': edns = 1; break;
    case 'd': dnssec_ok = 1; edns = 1; break;
    default: usage(argv[0]);
    }
  }
  if (argc - optind != 4) usage(argv[0]);
  const char *addr = argv[optind];
  int port = atoi(argv[optind + 1]);
  const char *qfile = argv[optind + 2];
  double secs = atof(argv[optind + 3]);
  if (nsock < 1 || nsock > 256 || window < 1 || window > 30000 || secs <= 0 || rate < 0 ||
      timeout_ms <= 0 || port <= 0 || port > 65535)
    usage(argv[0]);
  /* Every run is bounded in time, even if the loop below were to misbehave. */
  alarm((unsigned)(secs + timeout_ms / 1000 + 5));

  /* ---- queries, encoded once into one buffer ---- */
  FILE *f = fopen(qfile, "r");
  if (!f) { perror(qfile); return 1; }
  size_t cap = 1024, nq = 0;
  uint8_t *qbuf = malloc(cap * PKT);
  int *qlen = malloc(cap * sizeof *qlen);
  char line[1024], nm[512], ty[32], sn[80];
  int lineno = 0;
  while (fgets(line, sizeof line, f)) {
    lineno++;
    int k = sscanf(line, "%511s %31s %79s", nm, ty, sn);
    if (k < 1 || nm[0] == '#' || nm[0] == ';') continue;
    if (k < 2) { fprintf(stderr, "%s:%d: no type\n", qfile, lineno); return 1; }
    if (nq == cap) {
      cap *= 2;
      qbuf = realloc(qbuf, cap * PKT);
      qlen = realloc(qlen, cap * sizeof *qlen);
      if (!qbuf || !qlen) { perror("realloc"); return 1; }
    }
    int len = encode(qbuf + nq * PKT, nm, ty, k == 3 ? sn : NULL, edns, lineno);
    if (len < 0) return 1;
    qlen[nq++] = len;
  }
  fclose(f);
  if (!nq) { fprintf(stderr, "%s: no queries\n", qfile); return 1; }

  /* ---- sockets ---- */
  struct sockaddr_storage ss;
  socklen_t sl;
  memset(&ss, 0, sizeof ss);
  int fam = strchr(addr, ':') ? AF_INET6 : AF_INET;
  if (fam == AF_INET) {
    struct sockaddr_in *a = (struct sockaddr_in *)&ss;
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, addr, &a->sin_addr) != 1) { fprintf(stderr, "bad address %s\n", addr); return 2; }
    sl = sizeof *a;
  } else {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons((uint16_t)port);
    if (inet_pton(AF_INET6, addr, &a->sin6_addr) != 1) { fprintf(stderr, "bad address %s\n", addr); return 2; }
    sl = sizeof *a;
  }
  struct sockstate *st = calloc((size_t)nsock, sizeof *st);
  for (int i = 0; i < nsock; i++) {
    st[i].fd = socket(fam, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    if (st[i].fd < 0) { perror("socket"); return 1; }
    int buf = 4 << 20;
    setsockopt(st[i].fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
    setsockopt(st[i].fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
    if (connect(st[i].fd, (struct sockaddr *)&ss, sl)) { perror("connect"); return 1; }
    st[i].sent_at = calloc(65536, sizeof(uint64_t));
    st[i].next_id = (uint16_t)(i * 7919 + 1);
  }

  static uint8_t sbuf[BATCH][PKT], rbuf[BATCH][RBUF];
  struct mmsghdr sm[BATCH], rm[BATCH];
  struct iovec siov[BATCH], riov[BATCH];
  memset(sm, 0, sizeof sm);
  memset(rm, 0, sizeof rm);
  for (int i = 0; i < BATCH; i++) {
    siov[i].iov_base = sbuf[i];
    sm[i].msg_hdr.msg_iov = &siov[i];
    sm[i].msg_hdr.msg_iovlen = 1;
    riov[i].iov_base = rbuf[i];
    riov[i].iov_len = RBUF;
    rm[i].msg_hdr.msg_iov = &riov[i];
    rm[i].msg_hdr.msg_iovlen = 1;
  }

  uint64_t sent = 0, recvd = 0, recvd_in = 0, lost = 0, noerr = 0, nxd = 0, rcerr = 0, tc = 0,
           bad = 0, late = 0, lat_sum = 0, lat_max = 0;
  const uint64_t timeout = (uint64_t)(timeout_ms * 1e6);
  const uint64_t t0 = now_ns(), end = t0 + (uint64_t)(secs * 1e9);
  uint64_t next_sweep = t0 + 50000000ull, now = t0, drain_end = 0, qi = 0;
  /* Pacing: a budget of queries that grows at `rate` per second. It is capped at 1 ms worth
   * (at least one batch), so a stall is not made up with a burst. */
  double budget = 0, budget_cap = rate > 0 ? (rate / 1000 > BATCH ? rate / 1000 : BATCH) : 0;
  uint64_t last_refill = t0;
  int draining = 0;

  for (;;) {
    now = now_ns();
    if (!draining && now >= end) { draining = 1; drain_end = now + timeout; }
    if (draining && now >= drain_end) break;
    if (rate > 0 && !draining) {
      budget += (double)(now - last_refill) * rate / 1e9;
      if (budget > budget_cap) budget = budget_cap;
      last_refill = now;
    }
    int any_inflight = 0;
    for (int s = 0; s < nsock; s++) {
      struct sockstate *S = &st[s];
      int n = draining ? 0 : window - S->inflight;
      if (n > BATCH) n = BATCH;
      if (rate > 0 && n > (int)budget) n = (int)budget;
      if (n > 0) {
        for (int k = 0; k < n; k++) {
          size_t q = (size_t)(qi++ % nq);
          memcpy(sbuf[k], qbuf + q * PKT, (size_t)qlen[q]);
          siov[k].iov_len = (size_t)qlen[q];
          uint16_t id = S->next_id++;
          if (S->sent_at[id]) { lost++; S->inflight--; } /* the ID wrapped onto a stale query */
          sbuf[k][0] = (uint8_t)(id >> 8);
          sbuf[k][1] = (uint8_t)id;
          S->sent_at[id] = now;
        }
        int r = sendmmsg(S->fd, sm, (unsigned)n, 0);
        if (r < 0) r = 0; /* ENOBUFS/EAGAIN: try again next round */
        for (int k = r; k < n; k++) {
          uint16_t id = (uint16_t)(sbuf[k][0] << 8 | sbuf[k][1]);
          S->sent_at[id] = 0;
        }
        S->next_id = (uint16_t)(S->next_id - (n - r));
        qi -= (uint64_t)(n - r);
        S->inflight += r;
        sent += (uint64_t)r;
        if (rate > 0) budget -= r;
      }
      int r = recvmmsg(S->fd, rm, BATCH, MSG_DONTWAIT, NULL);
      if (r > 0) {
        uint64_t t = now_ns();
        for (int k = 0; k < r; k++) {
          const uint8_t *p = rbuf[k];
          /* A reply: at least a header, QR set, one question. */
          if (rm[k].msg_len < 12 || !(p[2] & 0x80) || p[4] != 0 || p[5] != 1) { bad++; continue; }
          uint16_t id = (uint16_t)(p[0] << 8 | p[1]);
          uint64_t at = S->sent_at[id];
          if (!at) { late++; continue; }
          S->sent_at[id] = 0;
          S->inflight--;
          recvd++;
          if (t <= end) recvd_in++;
          uint64_t l = t - at;
          lat_sum += l;
          if (l > lat_max) lat_max = l;
          hist[bucket_of(l)]++;
          if (p[2] & 0x02) tc++;
          int rc = p[3] & 0x0f;
          if (rc == 0) noerr++;
          else if (rc == 3) nxd++;
          else rcerr++;
        }
      }
      if (S->inflight) any_inflight = 1;
    }
    if (draining && !any_inflight) break;
    if (now >= next_sweep) { /* write off queries older than the timeout */
      next_sweep = now + 50000000ull;
      for (int s = 0; s < nsock; s++) {
        if (!st[s].inflight) continue;
        for (int id = 0; id < 65536; id++)
          if (st[s].sent_at[id] && now - st[s].sent_at[id] > timeout) {
            st[s].sent_at[id] = 0;
            st[s].inflight--;
            lost++;
          }
      }
    }
  }
  for (int s = 0; s < nsock; s++) lost += (uint64_t)st[s].inflight;

  double sending = (double)((end < now ? end : now) - t0) / 1e9;
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  double cpu = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
               ru.ru_stime.tv_usec / 1e6;
  printf("qps=%.0f sent=%llu recv=%llu lost=%llu noerror=%llu nxdomain=%llu rcode_err=%llu tc=%llu "
         "bad=%llu late=%llu avg_us=%.1f p50_us=%.1f p99_us=%.1f p999_us=%.1f max_us=%.1f secs=%.3f "
         "cpu_s=%.3f\n",
         sending > 0 ? (double)recvd_in / sending : 0.0, (unsigned long long)sent,
         (unsigned long long)recvd, (unsigned long long)lost, (unsigned long long)noerr,
         (unsigned long long)nxd, (unsigned long long)rcerr, (unsigned long long)tc,
         (unsigned long long)bad, (unsigned long long)late,
         recvd ? (double)lat_sum / 1e3 / (double)recvd : 0.0, percentile_us(recvd, 0.50),
         percentile_us(recvd, 0.99), percentile_us(recvd, 0.999), (double)lat_max / 1e3, sending, cpu);
  return 0;
}
