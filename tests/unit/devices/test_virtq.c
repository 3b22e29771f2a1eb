/* The split virtqueue against rings crafted in guest memory: a driver that
 * follows the spec gets its chains back intact, and every malformed ring a
 * hostile guest can build fails cleanly (bounded work, no stray access). */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <linux/virtio_ring.h>

#include "check_main.h"
#include "core/guest_mem.h"
#include "devices/virtio/queue.h"

#define MEM_SIZE (1u << 20)
#define DESC 0x1000
#define AVAIL 0x2000
#define USED 0x3000
#define TABLE 0x4000 /* indirect tables */
#define BUF 0x10000

static struct guest_mem mem;
static struct virtq q;
static struct virtq_elem e;
static char err[256];
static uint16_t avail_idx;

static void setup_ring(uint16_t size, bool event_idx, bool indirect)
{
	char e2[256];
	ck_assert_int_eq(gm_create(&mem, MEM_SIZE, false, e2, sizeof(e2)), 0);
	virtq_reset(&q);
	q.size = size;
	q.desc_gpa = DESC;
	q.avail_gpa = AVAIL;
	q.used_gpa = USED;
	ck_assert_int_eq(virtq_enable(&q, &mem, event_idx, indirect, err, sizeof(err)), 0);
	avail_idx = 0;
}

static void teardown(void)
{
	gm_destroy(&mem);
}

static void put_desc(uint64_t table, uint16_t i, uint64_t addr, uint32_t len,
		     uint16_t flags, uint16_t next)
{
	struct vring_desc d = { .addr = addr, .len = len, .flags = flags, .next = next };
	ck_assert_int_eq(gm_write(&mem, table + 16ull * i, &d, sizeof(d)), 0);
}

/* Make `head` available, as a driver does: ring entry, then the index. */
static void offer(uint16_t head)
{
	uint16_t slot = avail_idx % q.size;
	gm_write(&mem, AVAIL + 4 + 2ull * slot, &head, 2);
	avail_idx++;
	gm_write(&mem, AVAIL + 2, &avail_idx, 2);
}

static uint16_t read16(uint64_t gpa)
{
	uint16_t v;
	ck_assert_int_eq(gm_read(&mem, gpa, &v, 2), 0);
	return v;
}

static void write16(uint64_t gpa, uint16_t v)
{
	ck_assert_int_eq(gm_write(&mem, gpa, &v, 2), 0);
}

START_TEST(empty_ring_yields_nothing)
{
	setup_ring(8, false, false);
	ck_assert_int_eq(virtq_pop(&q, &e), 0);
	ck_assert_int_eq(virtq_pending(&q), 0);
	teardown();
}
END_TEST

START_TEST(block_style_chain_is_split_into_readable_then_writable)
{
	setup_ring(8, false, false);
	put_desc(DESC, 2, BUF, 16, VRING_DESC_F_NEXT, 5);
	put_desc(DESC, 5, BUF + 0x1000, 4096, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 7);
	put_desc(DESC, 7, BUF + 0x3000, 1, VRING_DESC_F_WRITE, 0);
	offer(2);
	ck_assert_int_eq(virtq_pending(&q), 1);
	ck_assert_int_eq(virtq_pop(&q, &e), 1);
	ck_assert_int_eq(e.err, VQ_OK);
	ck_assert_uint_eq(e.head, 2);
	ck_assert_uint_eq(e.nout, 1);
	ck_assert_uint_eq(e.nin, 2);
	ck_assert_uint_eq(e.out_len, 16);
	ck_assert_uint_eq(e.in_len, 4097);
	ck_assert_ptr_eq(e.iov[0].iov_base, gm_ptr(&mem, BUF, 16));
	ck_assert_ptr_eq(e.iov[1].iov_base, gm_ptr(&mem, BUF + 0x1000, 4096));
	ck_assert_ptr_eq(e.iov[2].iov_base, gm_ptr(&mem, BUF + 0x3000, 1));
	ck_assert_int_eq(virtq_pop(&q, &e), 0);

	virtq_push(&q, 2, 4097);
	ck_assert_uint_eq(read16(USED + 2), 1);
	uint32_t id, len;
	gm_read(&mem, USED + 4, &id, 4);
	gm_read(&mem, USED + 8, &len, 4);
	ck_assert_uint_eq(id, 2);
	ck_assert_uint_eq(len, 4097);
	teardown();
}
END_TEST

START_TEST(indirect_table_is_followed_when_negotiated)
{
	setup_ring(4, false, true);
	put_desc(TABLE, 0, BUF, 16, VRING_DESC_F_NEXT, 1);
	put_desc(TABLE, 1, BUF + 0x100, 512, VRING_DESC_F_NEXT, 2);
	put_desc(TABLE, 2, BUF + 0x400, 1, VRING_DESC_F_WRITE, 0);
	put_desc(DESC, 3, TABLE, 3 * 16, VRING_DESC_F_INDIRECT, 0);
	offer(3);
	ck_assert_int_eq(virtq_pop(&q, &e), 1);
	ck_assert_int_eq(e.err, VQ_OK);
	ck_assert_uint_eq(e.head, 3);
	ck_assert_uint_eq(e.nout, 2);
	ck_assert_uint_eq(e.nin, 1);
	ck_assert_uint_eq(e.out_len, 528);
	teardown();
}
END_TEST

START_TEST(indirect_without_negotiation_fails_the_request)
{
	setup_ring(4, false, false);
	put_desc(TABLE, 0, BUF, 16, 0, 0);
	put_desc(DESC, 0, TABLE, 16, VRING_DESC_F_INDIRECT, 0);
	offer(0);
	ck_assert_int_eq(virtq_pop(&q, &e), 1);
	ck_assert_int_eq(e.err, VQ_E_INDIRECT);
	ck_assert_uint_eq(e.head, 0);
	teardown();
}
END_TEST

START_TEST(indirect_inside_indirect_is_refused)
{
	setup_ring(4, false, true);
	put_desc(TABLE + 0x100, 0, BUF, 16, 0, 0);
	put_desc(TABLE, 0, TABLE + 0x100, 16, VRING_DESC_F_INDIRECT, 0);
	put_desc(DESC, 0, TABLE, 16, VRING_DESC_F_INDIRECT, 0);
	offer(0);
	ck_assert_int_eq(virtq_pop(&q, &e), 1);
	ck_assert_int_eq(e.err, VQ_E_INDIRECT);
	teardown();
}
END_TEST

START_TEST(indirect_with_next_flag_is_refused)
{
	setup_ring(4, false, true);
	put_desc(TABLE, 0, BUF, 16, 0, 0);
	put_desc(DESC, 0, TABLE, 16, VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT, 1);
	put_desc(DESC, 1, BUF, 16, 0, 0);
	offer(0);
	ck_assert_int_eq(virtq_pop(&q, &e), 1);
	ck_assert_int_eq(e.err, VQ_E_INDIRECT);
	teardown();
}
END_TEST

START_TEST(bad_indirect_table_lengths_and_addresses_are_refused)
{
	static const struct { uint64_t addr; uint32_t len; int want; } cases[] = {
		{ TABLE, 0, VQ_E_INDIRECT_TABLE },
		{ TABLE, 15, VQ_E_INDIRECT_TABLE },
		{ TABLE, 24, VQ_E_INDIRECT_TABLE },
		{ TABLE, 16 * (VIRTQ_MAX_CHAIN + 1), VQ_E_INDIRECT_TABLE },
		{ MEM_SIZE - 16, 32, VQ_E_RANGE },
		{ 0xfffffffffffffff0ull, 32, VQ_E_RANGE },
	};
	setup_ring(8, false, true);
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		put_desc(DESC, 1, cases[i].addr, cases[i].len, VRING_DESC_F_INDIRECT, 0);
		offer(1);
		ck_assert_int_eq(virtq_pop(&q, &e), 1);
		ck_assert_msg(e.err == cases[i].want, "case %u: got %s", i, virtq_err_name(e.err));
	}
	teardown();
}
END_TEST

START_TEST(descriptor_loops_end_in_an_error_not_a_hang)
{
	setup_ring(8, false, true);
	/* Two-descriptor cycle. */
	put_desc(DESC, 0, BUF, 8, VRING_DESC_F_NEXT, 1);
	put_desc(DESC, 1, BUF, 8, VRING_DESC_F_NEXT, 0);
	offer(0);
	ck_assert_int_eq(virtq_pop(&q, &e), 1);
	ck_assert_int_eq(e.err, VQ_E_LOOP);
	ck_assert_uint_le(e.nout, 8);
	/* A descriptor that points to itself. */
	put_desc(DESC, 4, BUF, 8, VRING_DESC_F_NEXT, 4);
	offer(4);
	ck_assert_int_eq(virtq_pop(&q, &e), 1);
	ck_assert_int_eq(e.err, VQ_E_LOOP);
	/* A cycle inside an indirect table. */
	put_desc(TABLE, 0, BUF, 8, VRING_DESC_F_NEXT, 1);
	put_desc(TABLE, 1, BUF, 8, VRING_DESC_F_NEXT, 0);
	put_desc(DESC, 6, TABLE, 2 * 16, VRING_DESC_F_INDIRECT, 0);
	offer(6);
	ck_assert_int_eq(virtq_pop(&q, &e), 1);
	ck_assert_int_eq(e.err, VQ_E_LOOP);
	teardown();
}
END_TEST

START_TEST(longest_legal_chain_is_accepted)
{
	setup_ring(VIRTQ_MAX_SIZE, false, false);
	for (unsigned i = 0; i < VIRTQ_MAX_SIZE; i++)
		put_desc(DESC, i, BUF + i, 1, i + 1 < VIRTQ_MAX_SIZE ? VRING_DESC_F_NEXT : 0, i + 1);
	offer(0);
	ck_assert_int_eq(virtq_pop(&q, &e), 1);
	ck_assert_int_eq(e.err, VQ_OK);
	ck_assert_uint_eq(e.nout, VIRTQ_MAX_SIZE);
	teardown();
}
END_TEST

START_TEST(buffers_outside_ram_and_huge_lengths_are_refused)
{
	static const struct { uint64_t addr; uint32_t len; } cases[] = {
		{ MEM_SIZE, 1 },                    /* just past the end */
		{ MEM_SIZE - 1, 2 },                /* straddles the end */
		{ 0, 0xffffffffu },                 /* absurd length */
		{ 0xfffffffffffff000ull, 0x2000 },  /* wraps around 2^64 */
		{ 0xfee00000ull, 4 },               /* the LAPIC, not RAM */
	};
	setup_ring(8, false, false);
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		put_desc(DESC, 0, BUF, 16, VRING_DESC_F_NEXT, 1);
		put_desc(DESC, 1, cases[i].addr, cases[i].len, VRING_DESC_F_WRITE, 0);
		offer(0);
		ck_assert_int_eq(virtq_pop(&q, &e), 1);
		ck_assert_msg(e.err == VQ_E_RANGE, "case %u: got %s", i, virtq_err_name(e.err));
	}
	teardown();
}
END_TEST

START_TEST(chain_totalling_more_than_the_limit_is_refused)
{
	char e2[256];
	/* Two in-RAM buffers of 200 MiB each: each is valid, the sum is not. */
	ck_assert_int_eq(gm_create(&mem, 256u << 20, false, e2, sizeof(e2)), 0);
	virtq_reset(&q);
	q.size = 4;
	q.desc_gpa = DESC;
	q.avail_gpa = AVAIL;
	q.used_gpa = USED;
	ck_assert_int_eq(virtq_enable(&q, &mem, false, false, err, sizeof(err)), 0);
	avail_idx = 0;
	put_desc(DESC, 0, 1 << 20, 200u << 20, VRING_DESC_F_NEXT, 1);
	put_desc(DESC, 1, 1 << 20, 200u << 20, 0, 0);
	offer(0);
	ck_assert_int_eq(virtq_pop(&q, &e), 1);
	ck_assert_int_eq(e.err, VQ_E_TOO_BIG);
	teardown();
}
END_TEST

START_TEST(next_index_outside_the_table_is_refused)
{
	setup_ring(8, false, false);
	put_desc(DESC, 0, BUF, 16, VRING_DESC_F_NEXT, 8);
	offer(0);
	ck_assert_int_eq(virtq_pop(&q, &e), 1);
	ck_assert_int_eq(e.err, VQ_E_NEXT);
	put_desc(DESC, 0, BUF, 16, VRING_DESC_F_NEXT, 0xffff);
	offer(0);
	ck_assert_int_eq(virtq_pop(&q, &e), 1);
	ck_assert_int_eq(e.err, VQ_E_NEXT);
	teardown();
}
END_TEST

START_TEST(readable_after_writable_is_refused)
{
	setup_ring(8, false, false);
	put_desc(DESC, 0, BUF, 16, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 1);
	put_desc(DESC, 1, BUF + 16, 16, 0, 0);
	offer(0);
	ck_assert_int_eq(virtq_pop(&q, &e), 1);
	ck_assert_int_eq(e.err, VQ_E_ORDER);
	teardown();
}
END_TEST

START_TEST(corrupt_avail_ring_breaks_the_queue)
{
	setup_ring(8, false, false);
	/* Driver claims 9 new entries in an 8-entry ring. */
	write16(AVAIL + 2, 9);
	ck_assert_int_eq(virtq_pending(&q), -1);
	ck_assert_int_eq(virtq_pop(&q, &e), -1);
	/* A head index outside the descriptor table. */
	write16(AVAIL + 2, 1);
	write16(AVAIL + 4, 8);
	ck_assert_int_eq(virtq_pop(&q, &e), -1);
	teardown();
}
END_TEST

START_TEST(unpop_hands_the_same_chain_out_again)
{
	setup_ring(8, false, false);
	put_desc(DESC, 3, BUF, 16, 0, 0);
	offer(3);
	ck_assert_int_eq(virtq_pop(&q, &e), 1);
	virtq_unpop(&q);
	ck_assert_int_eq(virtq_pending(&q), 1);
	ck_assert_int_eq(virtq_pop(&q, &e), 1);
	ck_assert_uint_eq(e.head, 3);
	teardown();
}
END_TEST

START_TEST(queue_setup_is_validated)
{
	char e2[256];
	ck_assert_int_eq(gm_create(&mem, MEM_SIZE, false, e2, sizeof(e2)), 0);
	static const struct { uint16_t size; uint64_t d, a, u; } bad[] = {
		{ 0, DESC, AVAIL, USED },
		{ 6, DESC, AVAIL, USED },
		{ 512, DESC, AVAIL, USED },
		{ 8, DESC + 8, AVAIL, USED },
		{ 8, DESC, AVAIL + 1, USED },
		{ 8, DESC, AVAIL, USED + 2 },
		{ 8, MEM_SIZE - 64, AVAIL, USED },
		{ 8, DESC, AVAIL, MEM_SIZE - 8 },
		{ 8, DESC, 0xfffffffffffffffeull, USED },
		/* The used ring on what the device reads: its own stores would
		 * rewrite avail->idx (used->flags here) or the descriptors. */
		{ 8, DESC, AVAIL + 2, AVAIL + 4 },
		{ 8, DESC, AVAIL, AVAIL - 64 },
		{ 8, DESC, AVAIL, DESC + 0x70 },
	};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		virtq_reset(&q);
		q.size = bad[i].size;
		q.desc_gpa = bad[i].d;
		q.avail_gpa = bad[i].a;
		q.used_gpa = bad[i].u;
		ck_assert_msg(virtq_enable(&q, &mem, false, false, err, sizeof(err)) == -1,
			      "case %u accepted", i);
		ck_assert(!q.enabled);
		ck_assert(strlen(err) > 0);
	}
	teardown();
}
END_TEST

START_TEST(flags_suppress_interrupts_and_notifications_without_event_idx)
{
	setup_ring(8, false, false);
	put_desc(DESC, 0, BUF, 16, 0, 0);
	offer(0);
	ck_assert_int_eq(virtq_pop(&q, &e), 1);
	virtq_push(&q, 0, 0);
	ck_assert(virtq_should_notify(&q));
	write16(AVAIL, VRING_AVAIL_F_NO_INTERRUPT);
	virtq_push(&q, 0, 0);
	ck_assert(!virtq_should_notify(&q));

	virtq_disable_notify(&q);
	ck_assert_uint_eq(read16(USED), VRING_USED_F_NO_NOTIFY);
	ck_assert(!virtq_enable_notify(&q));
	ck_assert_uint_eq(read16(USED), 0);
	/* A chain that arrives while notifications were off is reported. */
	virtq_disable_notify(&q);
	offer(0);
	ck_assert(virtq_enable_notify(&q));
	teardown();
}
END_TEST

START_TEST(event_index_interrupts_only_when_used_event_is_crossed)
{
	const uint64_t used_event = AVAIL + 4 + 2 * 8, avail_event = USED + 4 + 8 * 8;
	setup_ring(8, true, false);
	for (int i = 0; i < 3; i++) {
		put_desc(DESC, i, BUF, 16, 0, 0);
		offer(i);
	}
	/* The first interrupt is always sent. */
	ck_assert_int_eq(virtq_pop(&q, &e), 1);
	virtq_push(&q, e.head, 0);
	ck_assert(virtq_should_notify(&q));
	/* Driver: "interrupt me once used entry 1 is written". */
	write16(used_event, 1);
	ck_assert_int_eq(virtq_pop(&q, &e), 1);
	virtq_push(&q, e.head, 0);
	ck_assert(virtq_should_notify(&q));
	/* used_event stays 1: entry 2 is past it, no interrupt. */
	ck_assert_int_eq(virtq_pop(&q, &e), 1);
	virtq_push(&q, e.head, 0);
	ck_assert(!virtq_should_notify(&q));
	/* The flag is ignored once event index is negotiated. */
	write16(AVAIL, VRING_AVAIL_F_NO_INTERRUPT);
	write16(used_event, 3);
	put_desc(DESC, 3, BUF, 16, 0, 0);
	offer(3);
	ck_assert_int_eq(virtq_pop(&q, &e), 1);
	virtq_push(&q, e.head, 0);
	ck_assert(virtq_should_notify(&q));

	/* Kick suppression: avail_event tells the driver where we are. */
	ck_assert(!virtq_enable_notify(&q));
	ck_assert_uint_eq(read16(avail_event), 4);
	ck_assert_uint_eq(read16(USED), 0); /* no flag with event index */
	teardown();
}
END_TEST

START_TEST(iov_copies_span_buffers_and_stop_at_the_end)
{
	uint8_t a[3], b[5], out[8];
	struct iovec v[2] = { { a, 3 }, { b, 5 } };
	const uint8_t in[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	ck_assert_uint_eq(iov_from_buf(v, 2, 0, in, 8), 8);
	ck_assert_uint_eq(a[2], 3);
	ck_assert_uint_eq(b[0], 4);
	ck_assert_uint_eq(iov_to_buf(v, 2, 2, out, 8), 6);
	ck_assert_uint_eq(out[0], 3);
	ck_assert_uint_eq(out[5], 8);
	ck_assert_uint_eq(iov_from_buf(v, 2, 7, in, 8), 1);
	ck_assert_uint_eq(iov_to_buf(v, 2, 9, out, 8), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("virtq");
	TCase *tc = tcase_create("split");
	tcase_add_test(tc, empty_ring_yields_nothing);
	tcase_add_test(tc, block_style_chain_is_split_into_readable_then_writable);
	tcase_add_test(tc, indirect_table_is_followed_when_negotiated);
	tcase_add_test(tc, indirect_without_negotiation_fails_the_request);
	tcase_add_test(tc, indirect_inside_indirect_is_refused);
	tcase_add_test(tc, indirect_with_next_flag_is_refused);
	tcase_add_test(tc, bad_indirect_table_lengths_and_addresses_are_refused);
	tcase_add_test(tc, descriptor_loops_end_in_an_error_not_a_hang);
	tcase_add_test(tc, longest_legal_chain_is_accepted);
	tcase_add_test(tc, buffers_outside_ram_and_huge_lengths_are_refused);
	tcase_add_test(tc, chain_totalling_more_than_the_limit_is_refused);
	tcase_add_test(tc, next_index_outside_the_table_is_refused);
	tcase_add_test(tc, readable_after_writable_is_refused);
	tcase_add_test(tc, corrupt_avail_ring_breaks_the_queue);
	tcase_add_test(tc, unpop_hands_the_same_chain_out_again);
	tcase_add_test(tc, queue_setup_is_validated);
	tcase_add_test(tc, flags_suppress_interrupts_and_notifications_without_event_idx);
	tcase_add_test(tc, event_index_interrupts_only_when_used_event_is_crossed);
	tcase_add_test(tc, iov_copies_span_buffers_and_stop_at_the_end);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
