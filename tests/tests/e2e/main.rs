//! End-to-end tests: the real `canhgac-agent` and `canhgac-server` binaries against real peers
//! on 127.0.0.1.
//!
//! One test binary; its modules say where new tests go:
//! - `agent`: running the binary and reading its JSON Lines;
//! - `agent_daemon`: `canhgac-agent enroll/run/status` against the real server: spool, outages,
//!   `kill -9`, revoked credentials, garbage answers;
//! - `tls_certificates`: trust verdicts, names, keys, chains (rustls sites with test-PKI certs);
//! - `tls_protocols`: versions, suites, order (rustls sites, `openssl s_server`, hello peers);
//! - `hostile`: peers that stall, babble, oversize or truncate: clear errors, no hang;
//! - `cli`: targets files, JSON Lines, exit statuses and usage errors;
//! - `demo`: the README's run command, `canhgac-demo`, end to end (province, agent, SIGTERM);
//! - `dns`: records, mail, DNSSEC against a real DNS server on loopback;
//! - `domain`: RDAP and WHOIS against loopback registries;
//! - `http`: redirects, headers, cookies, exposures, content against real HTTP servers;
//! - `policy`: every Decree 85 rule passing on a good site and failing on bad ones;
//! - `server`: the real `canhgac-server`: accounts, tokens, ingestion, durability;
//! - `server_api`: the OpenAPI document against the real routes;
//! - `server_cli`: subcommands through a running server (control channel) and directly;
//! - `server_documents`: dossier documents uploaded and downloaded as files;
//! - `server_durability`: concurrent writes, `kill -9` at random moments, restarts;
//! - `server_exchange`: inventory import (CSV, XLSX), systems export, the weekly report as
//!   files, over the API and the command line;
//! - `alerts`: holiday letters, retries and exactly-once delivery through a real SMTP server;
//! - `server_evidence`: waivers, stale evidence, report history and retention, officer scoping
//!   of reports, system and agency edits, retirement and merges;
//! - `server_listing`: the list routes of `canhgac-server` (filters, pagination, scope);
//! - `server_sessions`: sign-in, session cookies, CSRF, throttling, passwords, API tokens;
//! - `server_tls`: the server's HTTPS, certificate reload, trusted proxies and request ids;
//! - `smtp_fixture`: the test kit's SMTP server (STARTTLS, AUTH, faults) over a raw socket;
//! - `serverkit`: helpers to run `canhgac-server` and call its API (no tests);
//! - `web_dashboard`, `web_systems`, `web_system`, `web_dossier`: the web UI's pages over HTTP
//!   (HTML, forms, CSRF, agency scope);
//! - `web_flow`: the web UI in headless chromium, a dossier from submission to approval;
//! - `webkit`: a signed-in HTTP session for the web UI tests (no tests);
//! - `browser`: the WebDriver client against a tiny local page.

mod agent;
mod agent_daemon;
mod alerts;
mod browser;
mod cli;
mod demo;
mod dns;
mod domain;
mod hostile;
mod http;
mod policy;
mod server;
mod server_agents;
mod server_api;
mod server_calendar;
mod server_cli;
mod server_documents;
mod server_durability;
mod server_evidence;
mod server_exchange;
mod server_listing;
mod server_sessions;
mod server_tls;
mod serverkit;
mod smtp_fixture;
mod tls_certificates;
mod tls_protocols;
mod web_dashboard;
mod web_dossier;
mod web_flow;
mod web_system;
mod web_systems;
mod webkit;
