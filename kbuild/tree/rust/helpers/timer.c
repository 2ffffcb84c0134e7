// SPDX-License-Identifier: GPL-2.0

#include <linux/jiffies.h>
#include <linux/timer.h>

void rust_helper_timer_setup(struct timer_list *timer,
			     void (*func)(struct timer_list *), unsigned int flags)
{
	timer_setup(timer, func, flags);
}

/* `jiffies` is a volatile variable defined by the linker script. */
unsigned long rust_helper_jiffies_now(void)
{
	return jiffies;
}
