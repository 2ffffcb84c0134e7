// SPDX-License-Identifier: GPL-2.0

#include <linux/if_arp.h>
#include <linux/ipv6.h>
#include <linux/netdevice.h>
#include <net/ip6_route.h>
#include <net/ipv6.h>
#include <net/if_inet6.h>
#include <linux/skbuff.h>
#include <net/netns/generic.h>
#include <net/sock.h>

void *rust_helper_net_generic(const struct net *net, unsigned int id)
{
	return net_generic(net, id);
}

/*
 * The network header, and in *linear how many bytes from it lie in the
 * linear area (negative: the header is past it). One call, as the IPv6
 * hooks need both for every packet.
 */
unsigned char *rust_helper_skb_network_linear(const struct sk_buff *skb, int *linear)
{
	*linear = (int)skb_headlen(skb) - skb_network_offset(skb);
	return skb_network_header(skb);
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

struct net *rust_helper_dev_net(const struct net_device *dev)
{
	return dev_net(dev);
}

void rust_helper_dev_net_set(struct net_device *dev, struct net *net)
{
	dev_net_set(dev, net);
}

void rust_helper_dev_core_stats_tx_dropped_inc(struct net_device *dev)
{
	dev_core_stats_tx_dropped_inc(dev);
}

/*
 * A software layer-3 device: no link-layer header or address, so no ARP or
 * neighbour discovery; no queue; lockless transmit; checksums and GSO left
 * to whichever real device the packet would leave by. Pinned to its
 * namespace, as the tunnel drivers' fallback devices are. The bitfields
 * and feature masks are C's business, hence a helper rather than bindings.
 */
void rust_helper_netdev_setup_soft_l3(struct net_device *dev)
{
	dev->type = ARPHRD_NONE;
	dev->flags = IFF_NOARP;
	dev->hard_header_len = 0;
	dev->addr_len = 0;
	dev->min_mtu = IPV6_MIN_MTU;
	dev->max_mtu = IP6_MAX_MTU;
	dev->tx_queue_len = 0;
	dev->priv_flags |= IFF_NO_QUEUE;
	dev->lltx = true;
	dev->netns_immutable = true;
	dev->features = NETIF_F_SG | NETIF_F_HW_CSUM | NETIF_F_HIGHDMA |
			NETIF_F_GSO_SOFTWARE;
	dev->hw_features = dev->features;
	dev->hw_enc_features = dev->features;
}

bool rust_helper_skb_dst_force(struct sk_buff *skb)
{
	return skb_dst_force(skb);
}
