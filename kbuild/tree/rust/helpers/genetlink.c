// SPDX-License-Identifier: GPL-2.0

#include <net/genetlink.h>
#include <net/netlink.h>
#include <net/sock.h>

struct sk_buff *rust_helper_genlmsg_new(size_t payload, gfp_t flags)
{
	return genlmsg_new(payload, flags);
}

void rust_helper_genlmsg_end(struct sk_buff *skb, void *hdr)
{
	genlmsg_end(skb, hdr);
}

void rust_helper_genlmsg_cancel(struct sk_buff *skb, void *hdr)
{
	genlmsg_cancel(skb, hdr);
}

int rust_helper_genlmsg_reply(struct sk_buff *skb, struct genl_info *info)
{
	return genlmsg_reply(skb, info);
}

int rust_helper_genlmsg_multicast_netns(const struct genl_family *family,
					struct net *net, struct sk_buff *skb,
					u32 portid, unsigned int group,
					gfp_t flags)
{
	return genlmsg_multicast_netns(family, net, skb, portid, group, flags);
}

int rust_helper_genl_has_listeners(const struct genl_family *family,
				   struct net *net, unsigned int group)
{
	return genl_has_listeners(family, net, group);
}

struct net *rust_helper_genl_info_net(const struct genl_info *info)
{
	return genl_info_net(info);
}

void rust_helper_nlmsg_free(struct sk_buff *skb)
{
	nlmsg_free(skb);
}

void *rust_helper_nla_data(const struct nlattr *nla)
{
	return nla_data(nla);
}

int rust_helper_nla_len(const struct nlattr *nla)
{
	return nla_len(nla);
}

struct nlattr *rust_helper_nla_nest_start(struct sk_buff *skb, int attrtype)
{
	return nla_nest_start(skb, attrtype);
}

int rust_helper_nla_nest_end(struct sk_buff *skb, struct nlattr *start)
{
	return nla_nest_end(skb, start);
}

/* A dump's requester and namespace live in the request skb's control block. */
u32 rust_helper_netlink_cb_portid(const struct netlink_callback *cb)
{
	return NETLINK_CB(cb->skb).portid;
}

u32 rust_helper_netlink_cb_seq(const struct netlink_callback *cb)
{
	return cb->nlh->nlmsg_seq;
}

struct net *rust_helper_netlink_cb_net(const struct netlink_callback *cb)
{
	return sock_net(cb->skb->sk);
}

u8 rust_helper_netlink_cb_genl_cmd(const struct netlink_callback *cb)
{
	return ((const struct genlmsghdr *)nlmsg_data(cb->nlh))->cmd;
}

/* args[] sits in a union that bindgen names differently from tree to tree. */
long *rust_helper_netlink_cb_args(struct netlink_callback *cb)
{
	return cb->args;
}
