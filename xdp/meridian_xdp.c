// SPDX-License-Identifier: Apache-2.0 OR GPL-2.0-only
//
// Meridian's XDP program: sends the UDP datagrams addressed to the DNS addresses and ports
// Meridian serves on this interface to its AF_XDP sockets, and passes everything else to the
// kernel unchanged (ARP, ICMP, TCP, other addresses and ports, IPv4 with options, fragments,
// IPv6 with extension headers, VLAN-tagged frames).
//
// Built by scripts/build-xdp.sh (clang -target bpf); the object, xdp/meridian_xdp.o, is
// committed beside this file so that building Meridian needs no BPF toolchain. No system header
// is included: the few kernel structures it reads are declared here, so the build needs clang
// alone. Loaded by src/server/xdp/program.rs (aya), which fills the maps.
//
// The program decides only where a frame goes; it is not a trust boundary. User space reads
// every length again and drops what does not add up. Checksums are not verified here or there:
// virtual interfaces hand over UDP with a partial checksum (Knot and NSD do the same).

typedef unsigned char __u8;
typedef unsigned short __u16;
typedef unsigned int __u32;
typedef unsigned long long __u64;

#define SEC(name) __attribute__((section(name), used))
#define __uint(name, val) int (*name)[val]
#define __type(name, val) typeof(val) *name

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define be16(x) ((__u16)__builtin_bswap16(x))
#else
#define be16(x) ((__u16)(x))
#endif

// What the kernel hands the program (include/uapi/linux/bpf.h).
struct xdp_md {
	__u32 data;
	__u32 data_end;
	__u32 data_meta;
	__u32 ingress_ifindex;
	__u32 rx_queue_index;
	__u32 egress_ifindex;
};

enum { XDP_ABORTED, XDP_DROP, XDP_PASS, XDP_TX, XDP_REDIRECT };
enum { MAP_HASH = 1, MAP_PERCPU_ARRAY = 6, MAP_XSKMAP = 17 };

// The helpers used, by their numbers in the kernel's helper table.
static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)1;
static long (*bpf_redirect_map)(void *map, __u64 key, __u64 flags) = (void *)51;

struct ethhdr {
	__u8 dest[6];
	__u8 source[6];
	__u16 proto;
} __attribute__((packed));

struct iphdr {
	__u8 version_ihl;
	__u8 tos;
	__u16 tot_len;
	__u16 id;
	__u16 frag_off;
	__u8 ttl;
	__u8 protocol;
	__u16 check;
	__u32 saddr;
	__u32 daddr;
};

struct ipv6hdr {
	__u32 version_flow;
	__u16 payload_len;
	__u8 nexthdr;
	__u8 hop_limit;
	__u8 saddr[16];
	__u8 daddr[16];
};

struct udphdr {
	__u16 source;
	__u16 dest;
	__u16 len;
	__u16 check;
};

// A served address and port: IPv6, or IPv4 mapped (::ffff:a.b.c.d); the port as on the wire.
struct listen_key {
	__u8 addr[16];
	__u16 port;
	__u16 zero;
};

// The most receive queues one interface can have redirected (src/server/xdp/mod.rs refuses
// more).
#define MAX_QUEUES 64

// Queue number -> AF_XDP socket.
struct {
	__uint(type, MAP_XSKMAP);
	__uint(max_entries, MAX_QUEUES);
	__type(key, __u32);
	__type(value, __u32);
} xsks SEC(".maps");

// The addresses and ports served on this interface (the value is unused).
struct {
	__uint(type, MAP_HASH);
	__uint(max_entries, 256);
	__type(key, struct listen_key);
	__type(value, __u8);
} listen SEC(".maps");

// Per queue: [2q] frames redirected to the socket, [2q+1] frames passed to the kernel.
struct {
	__uint(type, MAP_PERCPU_ARRAY);
	__uint(max_entries, 2 * MAX_QUEUES);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

static __attribute__((always_inline)) int count(__u32 queue, int verdict)
{
	__u32 index = 2 * (queue < MAX_QUEUES ? queue : MAX_QUEUES - 1) + (verdict != XDP_REDIRECT);
	__u64 *n = bpf_map_lookup_elem(&counters, &index);
	if (n)
		*n += 1;
	return verdict;
}

SEC("xdp")
int meridian_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u32 queue = ctx->rx_queue_index;
	struct listen_key key = {};
	struct udphdr *udp;

	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > end)
		return count(queue, XDP_PASS);
	if (eth->proto == be16(0x0800)) {
		struct iphdr *ip = (void *)(eth + 1);
		if ((void *)(ip + 1) > end)
			return count(queue, XDP_PASS);
		// IPv4 without options, not a fragment (More Fragments or an offset), carrying UDP.
		if (ip->version_ihl != 0x45 || (ip->frag_off & be16(0x3fff)) || ip->protocol != 17)
			return count(queue, XDP_PASS);
		key.addr[10] = 0xff;
		key.addr[11] = 0xff;
		__builtin_memcpy(&key.addr[12], &ip->daddr, 4);
		udp = (void *)(ip + 1);
	} else if (eth->proto == be16(0x86dd)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);
		if ((void *)(ip6 + 1) > end)
			return count(queue, XDP_PASS);
		// UDP right after the fixed header: any extension header (fragments too) is passed.
		if (ip6->nexthdr != 17)
			return count(queue, XDP_PASS);
		__builtin_memcpy(key.addr, ip6->daddr, 16);
		udp = (void *)(ip6 + 1);
	} else {
		return count(queue, XDP_PASS);
	}
	if ((void *)(udp + 1) > end)
		return count(queue, XDP_PASS);
	key.port = udp->dest;
	if (!bpf_map_lookup_elem(&listen, &key))
		return count(queue, XDP_PASS);
	// A queue without a socket passes the frame to the kernel (the helper's fallback).
	return count(queue, bpf_redirect_map(&xsks, queue, XDP_PASS));
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
