/* IDT, trap dispatch and the exception table behind the *_safe helpers.
 *
 * Every vector goes to a stub in start.S and then to trap_dispatch(). A trap
 * nobody handles is a test failure: it is printed (vector, name, error code,
 * eip, APIC ID) and the guest exits with GUEST_EXIT_EXCEPTION + vector, so a
 * broken VMM shows up as a clear message rather than as a hang.
 */
#include "libguest.h"

#define KERNEL_CS 0x08
#define GATE_INTR32 0x8E /* present, DPL0, 32-bit interrupt gate (IF cleared) */
#define ISR_STUB_SIZE 16

struct idt_gate {
	uint16_t off_lo, sel;
	uint8_t zero, type;
	uint16_t off_hi;
} __attribute__((packed));

struct idt_ptr {
	uint16_t limit;
	uint32_t base;
} __attribute__((packed));

extern char isr_stubs[];
extern const struct extable_entry __extable_start[], __extable_end[];

static struct idt_gate idt[256] __attribute__((aligned(8)));
static trap_handler_t handlers[256];

static const char *const names[32] = {
	"#DE divide error", "#DB debug", "NMI", "#BP breakpoint", "#OF overflow",
	"#BR bound range", "#UD invalid opcode", "#NM device not available",
	"#DF double fault", "coprocessor overrun", "#TS invalid TSS",
	"#NP segment not present", "#SS stack fault", "#GP general protection",
	"#PF page fault", "reserved", "#MF x87 error", "#AC alignment check",
	"#MC machine check", "#XM SIMD error", "#VE virtualization",
	"#CP control protection", "reserved", "reserved", "reserved", "reserved",
	"reserved", "reserved", "#HV hypervisor injection", "#VC VMM communication",
	"#SX security", "reserved",
};

const char *exception_name(uint32_t vector)
{
	return vector < 32 ? names[vector] : "interrupt";
}

void idt_init(void)
{
	for (int i = 0; i < 256; i++) {
		uint32_t off = (uint32_t)(uintptr_t)(isr_stubs + i * ISR_STUB_SIZE);
		idt[i] = (struct idt_gate){
			.off_lo = (uint16_t)off, .sel = KERNEL_CS, .type = GATE_INTR32,
			.off_hi = (uint16_t)(off >> 16),
		};
	}
}

void idt_load(void)
{
	struct idt_ptr p = { .limit = sizeof(idt) - 1, .base = (uint32_t)(uintptr_t)idt };
	__asm__ volatile("lidt %0" : : "m"(p));
}

void idt_set_handler(uint8_t vector, trap_handler_t fn)
{
	handlers[vector] = fn;
}

static bool extable_fixup(struct trap_frame *f)
{
	for (const struct extable_entry *e = __extable_start; e < __extable_end; e++) {
		if (e->insn == f->eip) {
			f->eip = e->fixup;
			f->eax = f->vector; /* the *_safe helpers read the vector here */
			return true;
		}
	}
	return false;
}

/* Called from isr_common in start.S; returning resumes at f->eip. */
__attribute__((used)) void trap_dispatch(struct trap_frame *f);
void trap_dispatch(struct trap_frame *f)
{
	f->vector &= 0xff; /* the stubs push it as a sign-extended byte */
	/* An NMI is not a fault of the instruction at eip: it may arrive just
	 * before a *_safe helper's rdmsr without that rdmsr having faulted. */
	if (f->vector < 32 && f->vector != 2 && extable_fixup(f))
		return;
	if (handlers[f->vector] && handlers[f->vector](f))
		return;
	gprintf_unlocked("\nunexpected %s %u (%s) error=0x%x eip=0x%x eflags=0x%x cpu=%u\n",
			 f->vector < 32 ? "exception" : "interrupt", f->vector,
			 exception_name(f->vector), f->error, f->eip, f->eflags, lapic_id());
	guest_exit(GUEST_EXIT_EXCEPTION + f->vector);
}

/* rdmsr and rdpmc both take ecx and return edx:eax. If the instruction
 * faults, the fixup resumes at 2: with the fault code in eax (see
 * extable_fixup), which becomes the non-zero result. */
#define DEFINE_READ_SAFE(name, insn)                                          \
	int name(uint32_t sel, uint64_t *val)                                 \
	{                                                                     \
		uint32_t lo, hi, ecx = sel;                                   \
		__asm__ volatile("1: " insn "\n\t"                            \
				 "xorl %%ecx, %%ecx\n\t"                        \
				 "jmp 3f\n"                                      \
				 "2: movl %%eax, %%ecx\n"                        \
				 "3:\n\t"                                        \
				 GUEST_EXTABLE(1b, 2b)                        \
				 : "=a"(lo), "=d"(hi), "+c"(ecx) : : "memory"); \
		if (ecx)                                                      \
			return (int)ecx;                                      \
		*val = ((uint64_t)hi << 32) | lo;                             \
		return 0;                                                     \
	}

DEFINE_READ_SAFE(rdmsr_safe, "rdmsr")
DEFINE_READ_SAFE(rdpmc_safe, "rdpmc")

int wrmsr_safe(uint32_t msr, uint64_t val)
{
	uint32_t eax = (uint32_t)val;

	__asm__ volatile("1: wrmsr\n\t"
			 "xorl %%eax, %%eax\n"
			 "2:\n\t"
			 GUEST_EXTABLE(1b, 2b)
			 : "+a"(eax) : "c"(msr), "d"((uint32_t)(val >> 32)) : "memory");
	return (int)eax;
}
