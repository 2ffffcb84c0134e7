// SPDX-License-Identifier: GPL-2.0

#include <linux/netdevice.h>
#include <net/if_inet6.h>
#include <linux/skbuff.h>
#include <net/netns/generic.h>
#include <net/sock.h>

void *rust_helper_net_generic(const struct net *net, unsigned int id)
{
	return net_generic(net, id);
}

unsigned char *rust_helper_skb_network_header(const struct sk_buff *skb)
{
	return skb_network_header(skb);
}

int rust_helper_skb_network_offset(const struct sk_buff *skb)
{
	return skb_network_offset(skb);
}

unsigned int rust_helper_skb_headlen(const struct sk_buff *skb)
{
	return skb_headlen(skb);
}

/* ip_summed is a bitfield: bindgen's accessors for it change between trees. */
u8 rust_helper_skb_ip_summed(const struct sk_buff *skb)
{
	return skb->ip_summed;
}

void rust_helper_kfree_skb(struct sk_buff *skb)
{
	kfree_skb(skb);
}

struct sock *rust_helper_skb_sk(const struct sk_buff *skb)
{
	return skb->sk;
}

/* The address and where it lives, without bindgen's view of in6_addr. */
struct net *rust_helper_inet6_ifaddr_info(const struct inet6_ifaddr *ifa,
					  u8 *addr16, int *ifindex)
{
	if (!ifa->idev || !ifa->idev->dev)
		return NULL;
	memcpy(addr16, &ifa->addr, 16);
	*ifindex = ifa->idev->dev->ifindex;
	return dev_net(ifa->idev->dev);
}
