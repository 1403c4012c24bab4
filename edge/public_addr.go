package edge

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
)

// wsPath is where the node serves WebSocket clients.
const wsPath = "/v1/ws"

// validatePublic checks the advertised client addresses: a ws:// or
// wss:// PublicURL with a routable host and a port or default port, and
// a host:port PublicQUICAddr with a routable host. An unspecified host
// (0.0.0.0, ::) is refused: a peer would send clients to it and they
// would reach themselves.
func (c *Config) validatePublic() []error {
	var errs []error
	if c.PublicURL != "" {
		if err := checkPublicURL(c.PublicURL); err != nil {
			errs = append(errs, fmt.Errorf("PublicURL %q: %w", c.PublicURL, err))
		}
	}
	if c.PublicQUICAddr != "" {
		host, port, err := net.SplitHostPort(c.PublicQUICAddr)
		if err == nil && (port == "" || port == "0") {
			err = fmt.Errorf("no port")
		}
		if err == nil {
			err = checkPublicHost(host)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("PublicQUICAddr %q: %w", c.PublicQUICAddr, err))
		}
	}
	return errs
}

func checkPublicURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	if u.Scheme != "ws" && u.Scheme != "wss" {
		return fmt.Errorf("scheme %q: want ws or wss", u.Scheme)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("no user, query or fragment allowed")
	}
	if u.Port() == "0" {
		return fmt.Errorf("port 0")
	}
	return checkPublicHost(u.Hostname())
}

// checkPublicHost refuses an empty or unspecified host.
func checkPublicHost(host string) error {
	if host == "" {
		return fmt.Errorf("no host")
	}
	if ip, err := netip.ParseAddr(host); err == nil && ip.IsUnspecified() {
		return fmt.Errorf("unspecified address %s: clients cannot reach it (set the address clients use)", host)
	}
	return nil
}

// PublicURLFromListen derives the WebSocket URL clients use from a listen
// address (host:port): ws://host:port/v1/ws. It returns "" when the host
// is empty or unspecified (":8080", "0.0.0.0:8080"; the machine's public
// address is unknown: set the URL explicitly) or the port is 0.
func PublicURLFromListen(listen string) string {
	if a := PublicAddrFromListen(listen); a != "" {
		return "ws://" + a + wsPath
	}
	return ""
}

// PublicAddrFromListen is the QUIC counterpart of PublicURLFromListen:
// the listen address itself, or "" when its host is empty or unspecified
// or its port is 0.
func PublicAddrFromListen(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil || port == "0" || checkPublicHost(host) != nil {
		return ""
	}
	return net.JoinHostPort(host, port)
}
