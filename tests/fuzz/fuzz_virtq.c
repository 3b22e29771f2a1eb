/* libFuzzer: the split-virtqueue walker (devices/virtio/queue.c) against
 * rings a hostile driver wrote. Input: an 8-byte header (queue size, the
 * negotiated features, the three ring addresses), then `nops` operation
 * bytes, then the bytes of guest RAM (16 KiB, the rest zero): descriptor
 * tables, avail ring, indirect tables, all of it fuzzed. The operations are
 * what a device does (pop, push, give back, count, notification
 * suppression) and what the driver does meanwhile (rewrite two bytes).
 *
 * Oracles, besides ASan: virtq_enable() accepts only rings inside RAM, with
 * the used ring apart from the other two; a
 * popped chain has a head inside the table and, when valid, iovecs inside
 * RAM whose lengths add up to out_len + in_len under the chain limits; the
 * used index moves by exactly one per push and never past what was popped;
 * virtq_pending() is -1 or at most the queue size.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/virtio_ring.h>

#include "devices/virtio/queue.h"
#include "fuzz_check.h"

#define RAM 0x4000u

static uint8_t *ram;

static bool in_ram(const void *p, uint64_t len)
{
	const uint8_t *b = p;
	return b >= ram && b <= ram + RAM && len <= (uint64_t)(ram + RAM - b);
}

static void check_elem(const struct virtq *q, const struct virtq_elem *e)
{
	CHECK(e->head < q->size);
	CHECK(e->nout + e->nin <= VIRTQ_MAX_CHAIN);
	if (e->err)
		return;
	uint64_t out = 0, in = 0;
	for (unsigned i = 0; i < (unsigned)e->nout + e->nin; i++) {
		CHECK(in_ram(e->iov[i].iov_base, e->iov[i].iov_len));
		*(i < e->nout ? &out : &in) += e->iov[i].iov_len;
	}
	CHECK(out == e->out_len && in == e->in_len);
	CHECK(out + in <= VIRTQ_MAX_CHAIN_BYTES);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 8)
		return 0;
	if (!ram && !(ram = malloc(RAM))) /* exact size: ASan sees any stray access */
		abort();
	static struct virtq q;
	static struct virtq_elem e;
	struct guest_mem m = { .regions = { { 0, RAM, ram } }, .nregions = 1, .ram_size = RAM };
	virtq_reset(&q);
	/* Sizes around the valid ones (1..256, powers of two) and addresses
	 * that are mostly aligned, with the low bits fuzzed now and then. */
	q.size = data[0] & 0x80 ? (uint16_t)(data[0] << 8 | data[1]) : (uint16_t)(1u << (data[0] & 15));
	q.desc_gpa = (uint64_t)data[2] << 6 | (data[1] & 0x40 ? data[1] & 15 : 0);
	q.avail_gpa = (uint64_t)data[3] << 6 | (data[1] & 0x20 ? data[1] & 1 : 0);
	q.used_gpa = (uint64_t)data[4] << 6 | (data[1] & 0x10 ? data[1] & 3 : 0);
	if (data[1] & 0x08)
		q.used_gpa += (uint64_t)data[4] << 56; /* far outside RAM, or wrapping */
	bool event_idx = data[5] & 1, indirect = data[5] & 2;
	size_t nops = data[6];
	data += 8, size -= 8;
	if (nops > size)
		nops = size;
	const uint8_t *ops = data;
	memset(ram, 0, RAM);
	memcpy(ram, data + nops, size - nops < RAM ? size - nops : RAM);

	char err[256] = "";
	if (virtq_enable(&q, &m, event_idx, indirect, err, sizeof(err))) {
		CHECK(err[0]);
		return 0;
	}
	CHECK(in_ram(q.desc, 16ull * q.size) && in_ram(q.avail, 6 + 2ull * q.size) &&
	      in_ram(q.used, 6 + 8ull * q.size));
	/* The used ring, which the device writes, is apart from what it reads. */
	uint64_t ulen = 6 + 8ull * q.size;
	CHECK(q.used_gpa + ulen <= q.avail_gpa || q.avail_gpa + 6 + 2ull * q.size <= q.used_gpa);
	CHECK(q.used_gpa + ulen <= q.desc_gpa || q.desc_gpa + 16ull * q.size <= q.used_gpa);

	uint32_t popped = 0, pushed = 0;
	static uint8_t buf[4096];
	for (size_t i = 0; i < nops; i++) {
		uint8_t op = ops[i];
		int r, n;
		switch (op & 7) {
		case 0: /* serve a request: read it, answer into its writable part */
		case 1:
			r = virtq_pop(&q, &e);
			if (r < 0)
				return 0; /* corrupt ring: the device stops using it */
			if (r == 0)
				break;
			popped++;
			check_elem(&q, &e);
			uint32_t used = 0;
			if (!e.err) {
				iov_to_buf(e.iov, e.nout, op >> 3, buf, sizeof(buf));
				used = (uint32_t)iov_from_buf(e.iov + e.nout, e.nin, op >> 4, buf, sizeof(buf));
			}
			virtq_push(&q, e.head, used);
			pushed++;
			CHECK(q.used_idx == (uint16_t)pushed && q.used->idx == q.used_idx);
			break;
		case 2: /* a rate-limited device gives the chain back */
			r = virtq_pop(&q, &e);
			if (r < 0)
				return 0;
			if (r > 0) {
				/* Nothing changed the ring meanwhile: the same chain
				 * comes back, and is then failed (used length 0). */
				uint16_t head = e.head;
				int err0 = e.err;
				virtq_unpop(&q);
				CHECK(virtq_pop(&q, &e) == 1 && e.head == head && e.err == err0);
				popped++;
				virtq_push(&q, e.head, 0);
				pushed++;
			}
			break;
		case 3:
			n = virtq_pending(&q);
			CHECK(n >= -1 && n <= q.size);
			break;
		case 4:
			virtq_disable_notify(&q);
			break;
		case 5:
			virtq_enable_notify(&q);
			break;
		case 6:
			virtq_should_notify(&q);
			break;
		case 7: /* the driver writes meanwhile: 2 bytes at a fuzzed offset */
			if (i + 3 < nops) {
				uint32_t off = ((uint32_t)ops[i + 1] << 8 | ops[i + 2]) % (RAM - 1);
				ram[off] = ops[i + 3];
				ram[off + 1] = op;
				i += 3;
			}
			break;
		}
		CHECK(pushed <= popped);
	}
	return 0;
}
