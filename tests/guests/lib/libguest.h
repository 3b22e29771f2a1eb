/* libguest: the tiny runtime shared by mpvm's freestanding test guests.
 *
 * Contract: start.S enters in 32-bit protected mode (paging off) from either
 * PVH (ebx = hvm_start_info) or multiboot v1 (eax = 0x2BADB002, ebx = info),
 * loads its own flat GDT and stack, zeroes .bss and calls guest_boot(), which
 * initialises the console and the IDT, then calls the guest's
 *     void guest_main(const char *cmdline);
 * Returning from guest_main exits with GUEST_EXIT_PASS.
 *
 * The guest talks to the VMM only through the fixed contract: 16550 UART at
 * I/O 0x3f8 (polled), isa-debug-exit at I/O 0xf4 (`outl v` -> VMM exit status
 * (v << 1) | 1), boot marker `outb 123, 0x3f0`, xAPIC at 0xFEE00000, ACPI
 * tables. Everything here runs at CPL0 with IF=0, so on hosts where CPL0 is
 * emulated it must stay small: no big loops, no int3/int n/ud2 on purpose.
 */
#ifndef MPVM_LIBGUEST_H
#define MPVM_LIBGUEST_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- exit codes (value written to port 0xf4) ---------------------------- */
#define GUEST_EXIT_PASS          0
#define GUEST_EXIT_FAIL          1    /* generic failure */
#define GUEST_EXIT_SMP_MISSING   2    /* smp: not every CPU came online */
#define GUEST_EXIT_NO_ACPI       3    /* no RSDP / MADT found */
#define GUEST_EXIT_RESET_FAILED  4    /* reset: still running after reset */
#define GUEST_EXIT_NO_CRASH      5    /* crash: survived the triple fault */
#define GUEST_EXIT_PMU_MISMATCH  6    /* pmu: CPUID leaf 0xA not as expected */
#define GUEST_EXIT_EXCEPTION     0x20 /* + vector: unexpected exception/irq */

enum boot_proto {
	BOOT_PROTO_UNKNOWN = 0, /* entered at the ELF entry without multiboot magic */
	BOOT_PROTO_PVH = 1,
	BOOT_PROTO_MULTIBOOT = 2,
};

struct boot_info {
	enum boot_proto proto;
	const char *cmdline;  /* never NULL ("" when the loader gave none) */
	uint32_t rsdp_paddr;  /* 0 when the loader did not say (PVH only) */
};

extern struct boot_info guest_boot_info;

/* Implemented by each guest. */
void guest_main(const char *cmdline);

/* ---- exit and markers ---------------------------------------------------- */
/* Exits through isa-debug-exit. If the VMM has no such device, says so and
 * halts forever so that the harness times out instead of seeing a pass. */
__attribute__((noreturn)) void guest_exit(uint32_t code);
void guest_boot_marker(void); /* outb 123, 0x3f0 */
__attribute__((noreturn)) void guest_halt_forever(void);

/* A physical address as a pointer (paging is off, so physical = linear).
 * The empty asm hides the constant from the compiler, which otherwise flags
 * accesses to low addresses such as the BDA as out of bounds. */
static inline void *phys_ptr(uint32_t paddr)
{
	uintptr_t p = paddr;
	__asm__("" : "+r"(p));
	return (void *)p;
}

/* ---- port I/O ------------------------------------------------------------ */
static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outl(uint16_t port, uint32_t v) { __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port)
{
	uint8_t v;
	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline void cpu_relax(void) { __asm__ volatile("pause" ::: "memory"); }
/* Guests run with IF=0; a test that expects an interrupt (programmed with
 * idt_set_handler) waits for it with this, and is back at IF=0 after. */
static inline void wait_for_interrupt(void) { __asm__ volatile("sti; hlt; cli" ::: "memory"); }

/* ---- console (16550 at 0x3f8, polled) ------------------------------------ */
void serial_init(void);
void serial_putc(char c);          /* no locking; '\n' is sent as is */
int serial_getc(void);             /* blocks until a byte arrives */
int serial_try_getc(void);         /* -1 when no byte is waiting */
/* Reads up to '\n' (not stored) or max-1 bytes; always NUL-terminates.
 * Returns the number of bytes stored. '\r' is dropped. */
size_t serial_read_line(char *buf, size_t max);

/* printf subset: %s %c %d %u %x %p %%, with optional '0' flag, width and 'l'.
 * Output of one call is atomic with respect to other CPUs (spinlock). */
__attribute__((format(printf, 1, 2))) void gprintf(const char *fmt, ...);
void gvprintf(const char *fmt, va_list ap);
/* Same, without taking the console lock: for the trap handler, which may run
 * while the faulting CPU holds it. */
__attribute__((format(printf, 1, 2))) void gprintf_unlocked(const char *fmt, ...);
int gsnprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ---- spinlock ------------------------------------------------------------ */
typedef struct { volatile uint32_t locked; } spinlock_t;
void spin_lock(spinlock_t *l);
void spin_unlock(spinlock_t *l);

/* ---- strings and command line --------------------------------------------- */
void *memcpy(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
void *memmove(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
/* Finds "key=value" as a whitespace-separated token; copies value into buf
 * (NUL-terminated, truncated to size). Returns true if the key is present. */
bool cmdline_get(const char *cmdline, const char *key, char *buf, size_t size);
/* Parses "key=N" (decimal or 0x hex). Returns true only for a valid number. */
bool cmdline_get_u32(const char *cmdline, const char *key, uint32_t *out);
/* True if the exact token (e.g. "expect=off" or "verbose") is present. */
bool cmdline_has(const char *cmdline, const char *token);

/* ---- CPU: cpuid, MSRs, TSC --------------------------------------------- */
struct cpuid_regs { uint32_t eax, ebx, ecx, edx; };
static inline struct cpuid_regs cpuid(uint32_t leaf, uint32_t subleaf)
{
	struct cpuid_regs r;
	__asm__ volatile("cpuid" : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx)
			 : "a"(leaf), "c"(subleaf));
	return r;
}
static inline uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;
	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return ((uint64_t)hi << 32) | lo;
}
static inline void wrmsr(uint32_t msr, uint64_t v)
{
	__asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)) : "memory");
}
static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

/* Fault-tolerant variants: return 0 on success, or the exception vector
 * (13 = #GP) if the instruction faulted; *val is untouched on a fault.
 * They rely on the exception table in trap.c (see GUEST_EXTABLE). */
int rdmsr_safe(uint32_t msr, uint64_t *val);
int wrmsr_safe(uint32_t msr, uint64_t val);
int rdpmc_safe(uint32_t counter, uint64_t *val);

/* ---- IDT and traps --------------------------------------------------------- */
/* What the stubs in start.S push (pusha layout, then vector and error code,
 * then the CPU's same-privilege frame). */
struct trap_frame {
	uint32_t edi, esi, ebp, esp_pusha, ebx, edx, ecx, eax;
	uint32_t vector, error;
	uint32_t eip, cs, eflags;
};
/* Returns true if it handled the trap (execution resumes at frame->eip). */
typedef bool (*trap_handler_t)(struct trap_frame *f);

void idt_init(void);   /* builds the 256-entry IDT (done by guest_boot) */
void idt_load(void);   /* loads it on the calling CPU (APs call this) */
/* Per-vector handler, consulted after the exception table. Use it for the
 * interrupt vectors a test programs (e.g. the PMI vector in LVTPC). */
void idt_set_handler(uint8_t vector, trap_handler_t fn);
const char *exception_name(uint32_t vector);

/* Exception table entry: a fault at `insn` resumes at `fixup` with eax =
 * vector. Emitted by the *_safe helpers' inline asm. */
struct extable_entry { uint32_t insn, fixup; };
#define GUEST_EXTABLE(insn_label, fixup_label)                                 \
	".pushsection .extable, \"a\"\n\t.balign 4\n\t.long " #insn_label ", " #fixup_label "\n\t.popsection\n\t"

/* ---- local APIC (xAPIC MMIO at 0xFEE00000) -------------------------------- */
#define LAPIC_BASE       0xFEE00000u
#define LAPIC_ID         0x020
#define LAPIC_VERSION    0x030
#define LAPIC_EOI        0x0B0
#define LAPIC_SVR        0x0F0
#define LAPIC_ICR_LOW    0x300
#define LAPIC_ICR_HIGH   0x310
#define LAPIC_LVT_TIMER  0x320
#define LAPIC_LVT_PMC    0x340
#define LAPIC_TIMER_INIT 0x380
#define LAPIC_TIMER_CUR  0x390
#define LAPIC_TIMER_DIV  0x3E0

static inline uint32_t lapic_read(uint32_t reg) { return *(volatile uint32_t *)(LAPIC_BASE + reg); }
static inline void lapic_write(uint32_t reg, uint32_t v) { *(volatile uint32_t *)(LAPIC_BASE + reg) = v; }
static inline uint32_t lapic_id(void) { return lapic_read(LAPIC_ID) >> 24; }
static inline void lapic_eoi(void) { lapic_write(LAPIC_EOI, 0); }

void lapic_enable(void); /* software-enable (SVR), spurious vector 0xFF */
/* Sends an IPI and waits (bounded) for the delivery-status bit to clear.
 * icr_low holds delivery mode, level, vector. Returns false on timeout. */
bool lapic_send_ipi(uint32_t apic_id, uint32_t icr_low);
#define ICR_INIT        0x00004500u /* INIT, level assert */
#define ICR_STARTUP     0x00004600u /* | (trampoline_paddr >> 12) */

/* Wall-clock time from the LAPIC timer, run masked in one-shot mode. KVM
 * (and QEMU's APIC) tick the bus at 1 GHz; with divide-by-16 the count lasts
 * ~68 s, after which time stops advancing. Good for timeouts and the SIPI
 * protocol delays, not for measurement. */
void time_init(void);
uint32_t time_us(void);
void udelay(uint32_t us);

/* ---- ACPI ------------------------------------------------------------------- */
struct acpi_sdt_header {
	char signature[4];
	uint32_t length;
	uint8_t revision, checksum;
	char oem_id[6], oem_table_id[8];
	uint32_t oem_revision, creator_id, creator_revision;
} __attribute__((packed));

/* RSDP from the boot info hint, the EBDA, then 0xE0000-0xFFFFF. 0 if none. */
uint32_t acpi_find_rsdp(void);
/* Table by signature via the RSDT (or the XSDT below 4 GiB). Checksummed. */
const struct acpi_sdt_header *acpi_find_table(const char sig[4]);

#define MADT_MAX_CPUS 256
/* Fills ids[] with the APIC IDs of enabled processors (MADT types 0 and 9).
 * Returns their count (may exceed max; only max are stored), -1 if no MADT. */
int madt_enabled_apic_ids(uint32_t *ids, int max);

#endif
