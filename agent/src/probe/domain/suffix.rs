//! The registrable domain of a host: what a registry holds a registration for, so what RDAP and
//! WHOIS are asked about.
//!
//! The rule is the Public Suffix List's, applied to a small built-in list: find the longest
//! public suffix the host ends with; the registrable domain is that suffix plus the one label
//! below it (`sct.dongnai.gov.vn` -> suffix `gov.vn` -> `dongnai.gov.vn`). A top-level domain
//! that is not listed counts as a suffix of its own (the list's implicit `*` rule), so
//! `www.example.com` gives `example.com` whether or not `com` is listed. A host that is itself a
//! suffix (`gov.vn`, `hanoi.vn`) or a single label has no registrable domain.
//!
//! The list covers what this agent scans: `.vn` and its second levels (the generic ones and the
//! provincial names such as `hanoi.vn`, from the Public Suffix List's `vn` section), and the
//! generic top-level domains for readability. Second levels of other countries (`co.uk`...) are
//! not listed: for them the label below the TLD is taken, which is wrong for such names. Like all
//! data here it is a default, to be moved to policy data when an administrator needs to change
//! it.

/// Public suffixes with more than one label, all under `.vn`: the generic second levels, then
/// the provincial ones.
pub const VN_SECOND_LEVELS: &[&str] = &[
    "ac.vn",
    "ai.vn",
    "biz.vn",
    "com.vn",
    "edu.vn",
    "gov.vn",
    "health.vn",
    "id.vn",
    "info.vn",
    "int.vn",
    "io.vn",
    "name.vn",
    "net.vn",
    "org.vn",
    "pro.vn",
    // Provinces and cities (names as registered, before the 2025 mergers; kept because
    // registrations under them remain).
    "angiang.vn",
    "bacgiang.vn",
    "backan.vn",
    "baclieu.vn",
    "bacninh.vn",
    "baria-vungtau.vn",
    "bentre.vn",
    "binhdinh.vn",
    "binhduong.vn",
    "binhphuoc.vn",
    "binhthuan.vn",
    "camau.vn",
    "cantho.vn",
    "caobang.vn",
    "daklak.vn",
    "daknong.vn",
    "danang.vn",
    "dienbien.vn",
    "dongnai.vn",
    "dongthap.vn",
    "gialai.vn",
    "hagiang.vn",
    "haiduong.vn",
    "haiphong.vn",
    "hanam.vn",
    "hanoi.vn",
    "hatinh.vn",
    "haugiang.vn",
    "hoabinh.vn",
    "hue.vn",
    "hungyen.vn",
    "khanhhoa.vn",
    "kiengiang.vn",
    "kontum.vn",
    "laichau.vn",
    "lamdong.vn",
    "langson.vn",
    "laocai.vn",
    "longan.vn",
    "namdinh.vn",
    "nghean.vn",
    "ninhbinh.vn",
    "ninhthuan.vn",
    "phutho.vn",
    "phuyen.vn",
    "quangbinh.vn",
    "quangnam.vn",
    "quangngai.vn",
    "quangninh.vn",
    "quangtri.vn",
    "soctrang.vn",
    "sonla.vn",
    "tayninh.vn",
    "thaibinh.vn",
    "thainguyen.vn",
    "thanhhoa.vn",
    "thanhphohochiminh.vn",
    "thuathienhue.vn",
    "tiengiang.vn",
    "travinh.vn",
    "tuyenquang.vn",
    "vinhlong.vn",
    "vinhphuc.vn",
    "yenbai.vn",
];

/// Top-level domains listed explicitly (any other TLD is a suffix too, by the implicit rule).
pub const TOP_LEVELS: &[&str] = &[
    "vn", "com", "net", "org", "info", "biz", "edu", "gov", "int", "mil", "name", "pro", "io",
];

/// Lower-cases a host name and removes one trailing dot; IDNs become their ASCII (punycode)
/// form. `None` for anything that is not a DNS name (IP literals, empty labels, bad IDNs).
pub fn normalize(host: &str) -> Option<String> {
    let host = host.trim().trim_end_matches('.');
    if host.is_empty() || host.parse::<std::net::IpAddr>().is_ok() {
        return None;
    }
    let ascii = if host.is_ascii() {
        host.to_ascii_lowercase()
    } else {
        match url::Host::parse(host).ok()? {
            url::Host::Domain(d) => d,
            _ => return None,
        }
    };
    let valid = ascii.split('.').all(|label| {
        !label.is_empty()
            && label.len() <= 63
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    });
    (valid && ascii.len() <= 253).then_some(ascii)
}

/// Whether `name` (normalized) is a public suffix by the built-in list or the implicit rule.
pub fn is_public_suffix(name: &str) -> bool {
    !name.contains('.') || VN_SECOND_LEVELS.contains(&name)
}

/// The registrable domain of `host` (see the module documentation), or `None` when the host is
/// not a DNS name, is a single label, or is itself a public suffix.
pub fn registrable_domain(host: &str) -> Option<String> {
    let name = normalize(host)?;
    // Walk from the longest candidate suffix (the whole name) to the shortest; the first
    // listed one wins, and the registrable domain is it plus one label.
    let labels: Vec<&str> = name.split('.').collect();
    let start = (0..labels.len())
        .find(|&start| is_public_suffix(&labels[start..].join(".")))
        .unwrap_or(labels.len() - 1);
    (start > 0).then(|| labels[start - 1..].join("."))
}

/// The top-level domain of a normalized name (`vn` for `dongnai.gov.vn`).
pub fn tld(name: &str) -> &str {
    name.rsplit('.').next().unwrap_or(name)
}

/// Whether `host` is `gov.vn` or below it (Decree 42/2022/ND-CP: state agencies' sites).
pub fn is_gov_vn(host: &str) -> bool {
    normalize(host).is_some_and(|n| n == "gov.vn" || n.ends_with(".gov.vn"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn registrable_domains() {
        let cases = [
            ("sct.dongnai.gov.vn", Some("dongnai.gov.vn")),
            ("dongnai.gov.vn", Some("dongnai.gov.vn")),
            ("www.chinhphu.vn", Some("chinhphu.vn")),
            ("chinhphu.vn", Some("chinhphu.vn")),
            ("a.b.example.com.vn", Some("example.com.vn")),
            ("portal.abc.hanoi.vn", Some("abc.hanoi.vn")),
            ("WWW.Example.COM.", Some("example.com")),
            ("x.y.example.org", Some("example.org")),
            ("host.example.unlisted", Some("example.unlisted")),
            ("gov.vn", None),
            ("hanoi.vn", None),
            ("vn", None),
            ("localhost", None),
            ("127.0.0.1", None),
            ("::1", None),
            ("", None),
            ("a..b.vn", None),
        ];
        for (host, want) in cases {
            assert_eq!(registrable_domain(host).as_deref(), want, "{host}");
        }
    }

    #[test]
    fn idn_hosts_become_punycode() {
        let d = registrable_domain("www.Bộcôngthương.vn").unwrap();
        assert!(d.starts_with("xn--") && d.ends_with(".vn"), "{d}");
        assert_eq!(registrable_domain(&format!("www.{d}")), Some(d));
    }

    #[test]
    fn gov_vn() {
        assert!(is_gov_vn("gov.vn"));
        assert!(is_gov_vn("sct.dongnai.gov.vn"));
        assert!(is_gov_vn("SCT.DONGNAI.GOV.VN."));
        assert!(!is_gov_vn("govvn.vn"));
        assert!(!is_gov_vn("gov.vn.example.com"));
        assert!(!is_gov_vn("mygov.vn"));
        assert!(!is_gov_vn("chinhphu.vn"));
    }

    #[test]
    fn listed_suffixes_are_well_formed() {
        for s in VN_SECOND_LEVELS {
            assert_eq!(normalize(s).as_deref(), Some(*s));
            assert_eq!(s.matches('.').count(), 1, "{s}");
            assert!(s.ends_with(".vn"));
        }
        for t in TOP_LEVELS {
            assert!(is_public_suffix(t));
        }
    }

    proptest! {
        #[test]
        fn never_panics_and_is_a_suffix_of_the_host(host in "\\PC{0,80}") {
            if let Some(d) = registrable_domain(&host) {
                let n = normalize(&host).unwrap();
                let dotted = format!(".{}", d);
                prop_assert!(n == d || n.ends_with(&dotted));
                prop_assert!(!is_public_suffix(&d));
            }
        }

        #[test]
        fn dns_like_hosts(labels in proptest::collection::vec("[a-z0-9]{1,8}", 1..6)) {
            let host = labels.join(".");
            let d = registrable_domain(&host);
            prop_assert_eq!(d.is_some(), labels.len() >= 2 && !is_public_suffix(&host));
        }
    }
}
