//! End-to-end tests: the real `canhgac-agent` binary against real peers on 127.0.0.1.
//!
//! One test binary; its modules say where new tests go:
//! - `agent`: running the binary and reading its JSON Lines;
//! - `tls_certificates`: trust verdicts, names, keys, chains (rustls sites with test-PKI certs);
//! - `tls_protocols`: versions, suites, order (rustls sites, `openssl s_server`, hello peers);
//! - `hostile`: peers that stall, babble, oversize or truncate: clear errors, no hang;
//! - `cli`: targets files, JSON Lines, exit statuses and usage errors;
//! - `dns`: records, mail, DNSSEC against a real DNS server on loopback;
//! - `domain`: RDAP and WHOIS against loopback registries;
//! - `http`: redirects, headers, cookies, exposures, content against real HTTP servers;
//! - `policy`: every Decree 85 rule passing on a good site and failing on bad ones;
//! - `server`: the real `canhgac-server`: accounts, tokens, ingestion, durability;
//! - `serverkit`: helpers to run `canhgac-server` and call its API (no tests).

mod agent;
mod cli;
mod dns;
mod domain;
mod hostile;
mod http;
mod policy;
mod server;
mod serverkit;
mod tls_certificates;
mod tls_protocols;
