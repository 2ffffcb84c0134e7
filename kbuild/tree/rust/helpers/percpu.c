// SPDX-License-Identifier: GPL-2.0

#include <linux/percpu.h>
#include <linux/timex.h>

/* __alloc_percpu is a macro (allocation tagging). */
u64 __percpu *rust_helper_percpu_u64_alloc(u32 n)
{
	return __alloc_percpu(n * sizeof(u64), __alignof__(u64));
}

void rust_helper_percpu_u64_add(u64 __percpu *p, u32 i, u64 n)
{
	this_cpu_add(p[i], n);
}

u64 rust_helper_percpu_u64_sum(u64 __percpu *p, u32 i)
{
	u64 sum = 0;
	int cpu;

	for_each_possible_cpu(cpu)
		sum += *per_cpu_ptr(&p[i], cpu);
	return sum;
}

/* The CPU's cycle counter (the TSC on x86), for per-packet cost. */
u64 rust_helper_cycles_now(void)
{
	return get_cycles();
}
