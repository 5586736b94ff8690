// Command etcd is a single-member etcd on loopback for pssgen's local cluster (generator/engines/cluster.py).
//
// It is the pinned go.etcd.io/etcd/server/v3 embedded, so no etcd release binary has to be downloaded; its flags
// are a subset of etcd's own, so a real etcd of the same version can stand in for it (ETCD_BIN). It stops
// cleanly on SIGTERM or SIGINT and when the process that started it goes away.
package main

import (
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"go.etcd.io/etcd/api/v3/version"
	"go.etcd.io/etcd/server/v3/embed"
)

func urls(flagName, value string) []url.URL {
	var out []url.URL
	for _, raw := range strings.Split(value, ",") {
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" {
			fmt.Fprintf(os.Stderr, "etcd: --%s: %q is not a URL\n", flagName, raw)
			os.Exit(2)
		}
		out = append(out, *u)
	}
	return out
}

func main() {
	cfg := embed.NewConfig()
	showVersion := flag.Bool("version", false, "print the version and exit")
	flag.StringVar(&cfg.Name, "name", "default", "member name")
	flag.StringVar(&cfg.Dir, "data-dir", "", "data directory (required)")
	listenClient := flag.String("listen-client-urls", "http://127.0.0.1:2379", "client URLs to listen on")
	advertiseClient := flag.String("advertise-client-urls", "", "client URLs to advertise (default: the listen URLs)")
	listenPeer := flag.String("listen-peer-urls", "http://127.0.0.1:2380", "peer URLs to listen on")
	advertisePeer := flag.String("initial-advertise-peer-urls", "", "peer URLs to advertise (default: the listen URLs)")
	initialCluster := flag.String("initial-cluster", "", "name=peer-URL of each member (default: this one alone)")
	flag.BoolVar(&cfg.UnsafeNoFsync, "unsafe-no-fsync", false, "do not fsync (a throw-away data dir)")
	flag.StringVar(&cfg.LogLevel, "log-level", "warn", "debug, info, warn, error")
	flag.Parse()
	if *showVersion {
		fmt.Printf("etcd Version: %s\n", version.Version)
		return
	}
	if cfg.Dir == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "etcd: --data-dir is required and no arguments are taken")
		os.Exit(2)
	}
	cfg.ListenClientUrls = urls("listen-client-urls", *listenClient)
	cfg.AdvertiseClientUrls = cfg.ListenClientUrls
	if *advertiseClient != "" {
		cfg.AdvertiseClientUrls = urls("advertise-client-urls", *advertiseClient)
	}
	cfg.ListenPeerUrls = urls("listen-peer-urls", *listenPeer)
	cfg.AdvertisePeerUrls = cfg.ListenPeerUrls
	if *advertisePeer != "" {
		cfg.AdvertisePeerUrls = urls("initial-advertise-peer-urls", *advertisePeer)
	}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	if *initialCluster != "" {
		cfg.InitialCluster = *initialCluster
	}

	parent := os.Getppid()
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	orphaned := make(chan struct{})
	go func() { // PR_SET_PDEATHSIG from the starter covers a SIGKILL; this covers being started without it
		for os.Getppid() == parent {
			time.Sleep(500 * time.Millisecond)
		}
		close(orphaned)
	}()

	e, err := embed.StartEtcd(cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "etcd: %v\n", err)
		os.Exit(1)
	}
	defer e.Close()
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		fmt.Fprintf(os.Stderr, "etcd: %v\n", err)
		os.Exit(1)
	case <-stop:
		return
	case <-orphaned:
		return
	}
	select {
	case err := <-e.Err():
		fmt.Fprintf(os.Stderr, "etcd: %v\n", err)
		e.Close()
		os.Exit(1)
	case <-stop:
	case <-orphaned:
	}
}
