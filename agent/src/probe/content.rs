//! The content probe: what the home page says. Vietnamese agency sites are often defaced or
//! injected with hidden gambling links for search engines; this finds keywords of the
//! department's lists (policies/packs/content/keywords.toml) in the text, the title and link
//! texts, links hidden with inline CSS, the national trust badge (tín nhiệm mạng), and how far
//! the main text moved since the agent's last baseline for the target.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use canhgac_policies::content::{KeywordLists, normalise};
use canhgac_policies::report::{BaselineChange, ContentReport, HiddenLink, KeywordHit, ProbeError};
use jiff::Timestamp;
use scraper::{ElementRef, Html, Node, Selector};
use serde::{Deserialize, Serialize};

use super::http::Page;

/// Main-text similarity below which the page counts as changed.
pub const CHANGE_THRESHOLD: f64 = 0.5;

/// Where baselines are kept, one JSON file per target.
#[derive(Debug, Clone)]
pub struct BaselineStore {
    dir: PathBuf,
}

#[derive(Debug, Serialize, Deserialize)]
struct Baseline {
    taken_at: Timestamp,
    shingles: Vec<u64>,
}

impl BaselineStore {
    /// Baselines under `dir` (created on first save).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        BaselineStore { dir: dir.into() }
    }

    fn path(&self, key: &str) -> PathBuf {
        let safe: String = key
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        self.dir.join(format!("{safe}.json"))
    }

    fn load(&self, key: &str) -> Option<Baseline> {
        let text = std::fs::read_to_string(self.path(key)).ok()?;
        serde_json::from_str(&text).ok()
    }

    fn save(&self, key: &str, baseline: &Baseline) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let path = self.path(key);
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, serde_json::to_vec(baseline)?)?;
        std::fs::rename(tmp, path)
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

fn hidden_by(style: &str) -> Option<&'static str> {
    let s: String = style
        .to_ascii_lowercase()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    if s.contains("display:none") {
        Some("display:none")
    } else if s.contains("visibility:hidden") {
        Some("visibility:hidden")
    } else if (s.contains("left:-") || s.contains("top:-") || s.contains("text-indent:-"))
        && s.split(['-', ';']).any(|p| {
            p.trim_end_matches("px")
                .parse::<i64>()
                .is_ok_and(|n| n >= 500)
        })
    {
        Some("off-screen")
    } else if s.contains("font-size:0") || (s.contains("height:0") && s.contains("overflow:hidden"))
    {
        Some("zero-size")
    } else if s.contains("opacity:0") && !s.contains("opacity:0.") {
        Some("opacity:0")
    } else {
        None
    }
}

/// The hiding technique of an element or its nearest hidden ancestor.
fn hidden(el: ElementRef<'_>) -> Option<&'static str> {
    let mut node = Some(el);
    while let Some(e) = node {
        if e.value().attr("hidden").is_some() {
            return Some("hidden attribute");
        }
        if let Some(t) = e.value().attr("style").and_then(hidden_by) {
            return Some(t);
        }
        node = e.parent().and_then(ElementRef::wrap);
    }
    None
}

fn visible_text(doc: &Html) -> String {
    let mut out = String::new();
    let body = Selector::parse("body").expect("valid selector");
    let root = doc
        .select(&body)
        .next()
        .unwrap_or_else(|| doc.root_element());
    for node in root.descendants() {
        if let Node::Text(t) = node.value() {
            let parent = node.parent().and_then(ElementRef::wrap);
            let skip = parent.is_some_and(|p| {
                matches!(
                    p.value().name(),
                    "script" | "style" | "noscript" | "template"
                ) || hidden(p).is_some()
            });
            if !skip {
                out.push_str(t);
                out.push(' ');
            }
        }
    }
    out
}

fn context(text: &str, keyword_norm: &str) -> String {
    let norm = normalise(text);
    match norm.find(keyword_norm) {
        Some(i) => {
            let start = norm[..i].char_indices().rev().nth(40).map_or(0, |(j, _)| j);
            norm[start..]
                .chars()
                .take(keyword_norm.chars().count() + 80)
                .collect()
        }
        None => String::new(),
    }
}

fn find_keywords(lists: &KeywordLists, text: &str, location: &str, hits: &mut Vec<KeywordHit>) {
    let norm = format!(" {} ", normalise(text));
    for category in &lists.categories {
        for (keyword, kn) in &category.keywords {
            if hits.len() >= 100 {
                return;
            }
            if norm.contains(&format!(" {kn} "))
                && !hits
                    .iter()
                    .any(|h| h.keyword == *keyword && h.location == location)
            {
                hits.push(KeywordHit {
                    keyword: keyword.clone(),
                    category: category.id.clone(),
                    location: location.into(),
                    context: context(text, kn),
                });
            }
        }
    }
}

/// Word 3-shingles of the main text, hashed.
fn shingles(text: &str) -> Vec<u64> {
    use std::hash::{Hash, Hasher};
    let words: Vec<&str> = text.split_whitespace().collect();
    let mut set = HashSet::new();
    for w in words.windows(3) {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        w.hash(&mut h);
        set.insert(h.finish());
    }
    let mut v: Vec<u64> = set.into_iter().collect();
    v.sort_unstable();
    v.truncate(20_000);
    v
}

fn jaccard(a: &[u64], b: &[u64]) -> f64 {
    if a.is_empty() && b.is_empty() {
        return 1.0;
    }
    let sa: HashSet<&u64> = a.iter().collect();
    let inter = b.iter().filter(|x| sa.contains(x)).count();
    let union = a.len() + b.len() - inter;
    inter as f64 / union as f64
}

/// Analyses a page. With a baseline store, compares with the previous baseline for `key` and
/// saves the new one.
pub fn analyse(
    page: &Page,
    lists: &KeywordLists,
    baselines: Option<&BaselineStore>,
    key: &str,
    now: Timestamp,
) -> ContentReport {
    let text = String::from_utf8_lossy(&page.body);
    let doc = Html::parse_document(&text);
    let mut report = ContentReport {
        url: Some(page.url.clone()),
        bytes: page.body.len() as u64,
        ..ContentReport::default()
    };
    if page.truncated {
        report.error = Some(ProbeError::new(
            "too_large",
            format!(
                "the page is larger than {} bytes; only that much was read",
                page.body.len()
            ),
        ));
    }
    let title_sel = Selector::parse("title").expect("valid selector");
    report.title = doc.select(&title_sel).next().map(|t| {
        t.text()
            .collect::<String>()
            .trim()
            .chars()
            .take(300)
            .collect()
    });
    let mut hits = Vec::new();
    if let Some(t) = &report.title {
        find_keywords(lists, t, "title", &mut hits);
    }
    let main_text = visible_text(&doc);
    find_keywords(lists, &main_text, "text", &mut hits);

    let link_sel = Selector::parse("a[href]").expect("valid selector");
    for a in doc.select(&link_sel) {
        let href = a.value().attr("href").unwrap_or_default();
        let label: String = a
            .text()
            .collect::<String>()
            .trim()
            .chars()
            .take(200)
            .collect();
        let technique = hidden(a);
        let link_text = format!("{label} {href}");
        if let Some(technique) = technique {
            if report.hidden_links.len() < 100 {
                report.hidden_links.push(HiddenLink {
                    href: href.chars().take(300).collect(),
                    text: label.clone(),
                    technique: technique.into(),
                });
            }
            find_keywords(lists, &link_text, "hidden", &mut hits);
        } else {
            find_keywords(lists, &link_text, "link", &mut hits);
        }
    }
    // Hidden text blocks without links still carry spam for search engines.
    let hidden_sel = Selector::parse("[style]").expect("valid selector");
    for el in doc.select(&hidden_sel) {
        if el.value().attr("style").and_then(hidden_by).is_some() {
            let t: String = el.text().collect();
            find_keywords(lists, &t, "hidden", &mut hits);
        }
    }
    report.gambling_spam = hits.iter().any(|h| h.category == "gambling");
    report.defacement = hits.iter().any(|h| h.category == "defacement");
    report.keyword_hits = hits;

    let lower = text.to_ascii_lowercase();
    report.trust_badge = lower.contains("tinnhiemmang.vn");

    if let Some(store) = baselines {
        let current = Baseline {
            taken_at: now,
            shingles: shingles(&normalise(&main_text)),
        };
        if let Some(previous) = store.load(key) {
            let similarity = jaccard(&previous.shingles, &current.shingles);
            report.baseline = Some(BaselineChange {
                baseline_at: previous.taken_at,
                similarity,
                changed: similarity < CHANGE_THRESHOLD,
            });
        }
        if let Err(e) = store.save(key, &current) {
            report.error.get_or_insert(ProbeError::new(
                "baseline",
                format!("cannot save the baseline in {}: {e}", store.dir().display()),
            ));
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(html: &str) -> Page {
        Page {
            url: "https://sct.example.gov.vn/".into(),
            body: html.as_bytes().to_vec(),
            truncated: false,
        }
    }

    fn now() -> Timestamp {
        "2026-11-23T00:00:00Z".parse().unwrap()
    }

    #[test]
    fn hidden_gambling_links_are_found() {
        let html = r#"<html><head><title>Sở Công Thương</title></head><body>
            <p>Tin tức hoạt động của Sở.</p>
            <div style="position:absolute; left:-9999px"><a href="https://nhacai.example/">Nhà cái uy tín W88</a></div>
            <a href="/lien-he">Liên hệ</a>
            <script src="https://tinnhiemmang.vn/handle_cert?id=x"></script>
            </body></html>"#;
        let r = analyse(
            &page(html),
            &KeywordLists::default_lists(),
            None,
            "k",
            now(),
        );
        assert!(r.gambling_spam);
        assert!(!r.defacement);
        assert_eq!(r.hidden_links.len(), 1);
        assert_eq!(r.hidden_links[0].technique, "off-screen");
        assert!(
            r.keyword_hits.iter().all(|h| h.location == "hidden"),
            "{:?}",
            r.keyword_hits
        );
        assert!(r.trust_badge);
        assert_eq!(r.title.as_deref(), Some("Sở Công Thương"));
    }

    #[test]
    fn a_clean_page_is_clean_and_words_inside_words_do_not_match() {
        let html = "<html><body><p>Casinos? No: the word 'bet' alone and 'alphabet' are fine. Giới thiệu, tin tức.</p></body></html>";
        let r = analyse(
            &page(html),
            &KeywordLists::default_lists(),
            None,
            "k",
            now(),
        );
        assert!(!r.gambling_spam, "{:?}", r.keyword_hits);
    }

    #[test]
    fn defacement_phrases_in_visible_text() {
        let html = "<html><body><h1>HACKED BY Someone</h1></body></html>";
        let r = analyse(
            &page(html),
            &KeywordLists::default_lists(),
            None,
            "k",
            now(),
        );
        assert!(r.defacement);
    }

    #[test]
    fn baselines_detect_a_replaced_page() {
        let dir = tempfile::tempdir().unwrap();
        let store = BaselineStore::new(dir.path());
        let lists = KeywordLists::default_lists();
        let original = "<html><body><p>Sở Công Thương tỉnh thông báo lịch tiếp công dân tháng mười một, kế hoạch kiểm tra an toàn thực phẩm và tin hoạt động của các phòng chuyên môn trong tuần.</p></body></html>";
        let first = analyse(&page(original), &lists, Some(&store), "sct", now());
        assert!(first.baseline.is_none(), "no baseline yet");
        let same = analyse(&page(original), &lists, Some(&store), "sct", now());
        assert_eq!(same.baseline.as_ref().unwrap().similarity, 1.0);
        let replaced = "<html><body><h1>This site was taken over, nothing here is what it was before at all today</h1></body></html>";
        let changed = analyse(&page(replaced), &lists, Some(&store), "sct", now());
        assert!(changed.baseline.unwrap().changed);
    }
}
