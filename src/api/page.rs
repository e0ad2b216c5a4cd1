//! The status page (`GET /`): one server-rendered HTML page, no script, no external request,
//! made from the same JSON as `/status` and the live catchment map. It reloads itself every
//! few seconds (`<meta http-equiv="refresh">`), so it works from any browser, a phone included,
//! and from a terminal browser.

use std::fmt::Write;

use serde_json::Value;

/// Seconds between two reloads of the page unless `?refresh=` says otherwise.
pub const DEFAULT_REFRESH: u32 = 10;

use crate::map::esc;

/// A value as text: strings bare, null as a dash.
fn text(v: &Value) -> String {
    match v {
        Value::Null => "—".to_string(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Seconds since the Unix epoch as `2026-12-01 09:30:12 UTC`.
pub fn utc(epoch: u64) -> String {
    let days = (epoch / 86_400) as i64;
    let secs = epoch % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC", secs / 3600, secs / 60 % 60, secs % 60)
}

fn when(v: &Value) -> String {
    v.as_u64().map_or_else(|| "—".to_string(), utc)
}

/// An availability fraction as a percentage.
fn percent(v: &Value) -> String {
    v.as_f64().map_or_else(|| "—".to_string(), |f| format!("{:.2}%", f * 100.0))
}

const STYLE: &str = "\
body{font-family:system-ui,sans-serif;margin:0 auto;max-width:1100px;padding:0 12px 24px;color:#1d2330}\
h1{margin:12px 0 0}h2{margin:24px 0 8px;border-bottom:1px solid #ccd}h3{margin:16px 0 4px}\
.meta{color:#556;margin:4px 0}.scroll{overflow-x:auto}\
table{border-collapse:collapse;width:100%;font-size:14px}th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #e4e6ee;white-space:nowrap}\
th{background:#f1f3f8}.up{color:#17702f;font-weight:600}.down{color:#b3261e;font-weight:600}\
.drained{color:#8a5a00;font-weight:600}.ok{color:#17702f}.bad{color:#b3261e}\
.map svg{width:100%;height:auto}nav a{margin-right:12px}code{background:#f1f3f8;padding:0 3px}";

/// The page for `status` (the `/status` JSON), with `map` (the SVG of `map_pool`) and the
/// names of the pools a visitor can switch the map to; `now` is when it was made.
pub fn render(status: &Value, map: Option<&str>, map_pool: &str, refresh: u32, now: u64) -> String {
    let mut out = String::with_capacity(64 * 1024);
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta http-equiv=\"refresh\" content=\"{refresh}\">\
         <title>Meridian status</title><style>{STYLE}</style></head><body>\n"
    );
    let instance = status["fleet"]["instance"].as_str().map(|i| format!(" · instance {}", esc(i))).unwrap_or_default();
    let _ = writeln!(
        out,
        "<header><h1>Meridian</h1><p class=\"meta\">version {}{instance} · {} · reloads every {refresh} s · \
         <a href=\"/status\">JSON</a> · <a href=\"/metrics\">metrics</a></p></header>",
        esc(&text(&status["version"])),
        utc(now)
    );
    reload(&mut out, &status["reload"]);
    datacenters(&mut out, &status["datacenters"]);
    pools(&mut out, status);
    if let Some(svg) = map {
        let _ = writeln!(out, "<section id=\"map\"><h2>Who answers where: pool {}</h2><nav>", esc(map_pool));
        for p in status["pools"].as_array().into_iter().flatten() {
            let name = text(&p["name"]);
            let _ = write!(out, "<a href=\"/?pool={0}\">{0}</a>", esc(&name));
        }
        let _ = writeln!(out, "</nav><div class=\"map\">{svg}</div></section>");
    }
    fleet(&mut out, &status["fleet"]);
    zones(&mut out, &status["zones"]);
    out.push_str("</body></html>\n");
    out
}

fn reload(out: &mut String, r: &Value) {
    let (class, result) = if r["ok"] == true { ("ok", "succeeded") } else { ("bad", "failed") };
    let last = if r["last"].is_null() {
        "none since start: the configuration loaded at start is served".to_string()
    } else {
        format!("<span class=\"{class}\">{result}</span> at {}", when(&r["last"]))
    };
    let _ = writeln!(
        out,
        "<section id=\"reload\"><h2>Last reload</h2><p>{last} ({} succeeded, {} failed since start)</p>",
        text(&r["successes"]),
        text(&r["failures"])
    );
    let errors = r["errors"].as_array().cloned().unwrap_or_default();
    if !errors.is_empty() {
        out.push_str("<ul class=\"bad\">");
        for e in errors {
            let _ = write!(out, "<li><code>{}</code></li>", esc(&text(&e)));
        }
        out.push_str("</ul>");
    }
    out.push_str("</section>\n");
}

fn datacenters(out: &mut String, list: &Value) {
    out.push_str(
        "<section id=\"datacenters\"><h2>Data centers</h2><div class=\"scroll\"><table>\
         <tr><th>data center</th><th>members serving</th><th>traffic dial</th><th>bias</th><th>spillover</th></tr>\n",
    );
    for d in list.as_array().into_iter().flatten() {
        let serving = d["members_serving"].as_u64().unwrap_or(0);
        let class = if serving == 0 { "down" } else { "up" };
        let spill = match d["spillover"].as_object() {
            None => "—".to_string(),
            Some(s) => format!(
                "load {} (sheds above {}), dial {}%",
                s.get("load").map_or("—".to_string(), text),
                text(&s["above"]),
                text(&s["dial"])
            ),
        };
        let _ = writeln!(
            out,
            "<tr id=\"datacenter-{0}\"><td>{0}</td><td class=\"{class}\">{serving} of {1}</td><td>{2}% ({3})</td><td>{4}</td><td>{5}</td></tr>",
            esc(&text(&d["name"])),
            text(&d["members"]),
            text(&d["dial"]),
            esc(&text(&d["dial_from"])),
            text(&d["bias"]),
            esc(&spill)
        );
    }
    out.push_str("</table></div></section>\n");
}

/// The availability figures of `kind`/`name`, by window name.
fn figures<'a>(status: &'a Value, kind: &str, name: &str) -> Option<&'a Value> {
    status["availability"]
        .as_array()?
        .iter()
        .find(|f| f["kind"] == kind && f["name"] == name)
        .map(|f| &f["figures"]["availability"])
}

fn window(figures: Option<&Value>, at: usize) -> String {
    figures.and_then(|f| f.get(at)).map_or_else(|| "—".to_string(), |w| percent(&w[1]))
}

fn pools(out: &mut String, status: &Value) {
    let peers: Vec<(String, Value)> = status["fleet"]["peers"]
        .as_object()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    out.push_str("<section id=\"pools\"><h2>Pools</h2>\n");
    for p in status["pools"].as_array().into_iter().flatten() {
        let pool = text(&p["name"]);
        let names: Vec<String> = p["names"].as_array().into_iter().flatten().map(text).collect();
        let pool_figures = figures(status, "pool", &pool);
        let _ = writeln!(
            out,
            "<h3 id=\"pool-{0}\">{0}</h3><p class=\"meta\">{1} · TTL {2} s · availability {3} (1 h), {4} (24 h), {5} (7 d)</p>",
            esc(&pool),
            esc(&names.join(", ")),
            text(&p["ttl"]),
            window(pool_figures, 0),
            window(pool_figures, 1),
            window(pool_figures, 2)
        );
        out.push_str(
            "<div class=\"scroll\"><table><tr><th>member</th><th>data center</th><th>serving</th><th>check</th>\
             <th>reason</th><th>override</th><th>1 h</th><th>24 h</th><th>7 d</th>",
        );
        for (instance, _) in &peers {
            let _ = write!(out, "<th>seen by {}</th>", esc(instance));
        }
        out.push_str("</tr>\n");
        for m in p["members"].as_array().into_iter().flatten() {
            let member = text(&m["name"]);
            let serving = text(&m["serving"]);
            let class = match serving.as_str() {
                "up" => "up",
                "drained" => "drained",
                _ => "down",
            };
            let over = match m["override"].as_object() {
                None => "—".to_string(),
                Some(o) => {
                    let action = match &o["action"] {
                        Value::Object(a) => a.get("dial").map_or_else(|| text(&o["action"]), |p| format!("dial {p}%")),
                        other => text(other),
                    };
                    let until =
                        o["expires"].as_u64().map_or_else(|| "no end".to_string(), |t| format!("until {}", utc(t)));
                    format!("{action} on {} ({until})", text(&o["target"]))
                }
            };
            let member_figures = figures(status, "member", &format!("{pool}/{member}"));
            let _ = write!(
                out,
                "<tr id=\"member-{0}-{1}\"><td>{1}</td><td>{2}</td><td class=\"{class}\">{3}</td><td>{4}</td><td>{5}</td><td>{6}</td><td>{7}</td><td>{8}</td><td>{9}</td>",
                esc(&pool),
                esc(&member),
                esc(&text(&m["datacenter"])),
                esc(&serving),
                esc(&text(&m["status"])),
                esc(&text(&m["reason"])),
                esc(&over),
                window(member_figures, 0),
                window(member_figures, 1),
                window(member_figures, 2)
            );
            for (_, view) in &peers {
                let seen = view.get(format!("{pool}/{member}")).map_or_else(|| "—".to_string(), text);
                let _ = write!(out, "<td>{}</td>", esc(&seen));
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</table></div>\n");
    }
    out.push_str("</section>\n");
}

fn fleet(out: &mut String, f: &Value) {
    if f.is_null() {
        return;
    }
    let (class, word) = if f["store_connected"] == true { ("ok", "connected") } else { ("bad", "NOT connected") };
    let _ = writeln!(
        out,
        "<section id=\"fleet\"><h2>Fleet</h2><p>instance {} ({}) · etcd <span class=\"{class}\">{word}</span>{}</p></section>",
        esc(&text(&f["instance"])),
        esc(&text(&f["role"])),
        f["store_error"].as_str().map(|e| format!(": {}", esc(e))).unwrap_or_default()
    );
}

fn zones(out: &mut String, list: &Value) {
    out.push_str(
        "<section id=\"zones\"><h2>Zones</h2><div class=\"scroll\"><table>\
         <tr><th>zone</th><th>role</th><th>state</th><th>serial</th><th>errors</th></tr>\n",
    );
    for z in list.as_array().into_iter().flatten() {
        let state = text(&z["state"]);
        let class = if state == "loaded" { "ok" } else { "bad" };
        let errors: Vec<String> = z["errors"].as_array().into_iter().flatten().map(text).collect();
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td class=\"{class}\">{}</td><td>{}</td><td>{}</td></tr>",
            esc(&text(&z["zone"])),
            esc(&text(&z["role"])),
            esc(&state),
            text(&z["serial"]),
            esc(&errors.join("; "))
        );
    }
    out.push_str("</table></div></section>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_utc_calendar_dates() {
        for (epoch, want) in [
            (0, "1970-01-01 00:00:00 UTC"),
            (951_782_400, "2000-02-29 00:00:00 UTC"),
            (1_796_117_412, "2026-12-01 09:30:12 UTC"),
            (4_107_542_399, "2100-02-28 23:59:59 UTC"),
        ] {
            assert_eq!(utc(epoch), want, "{epoch}");
        }
    }

    #[test]
    fn in_a_fleet_each_instance_view_of_each_member_is_a_column() {
        let status = serde_json::json!({
            "version": "1",
            "pools": [{"name": "www", "names": ["www.example.com."], "ttl": 60, "members": [
                {"name": "ams-1", "datacenter": "ams", "serving": "up", "status": "up"},
                {"name": "iad-1", "datacenter": "iad", "serving": "down", "status": "down", "reason": "refused"}]}],
            "datacenters": [], "zones": [], "reload": {"ok": true, "last": 0},
            "fleet": {"instance": "a", "role": "server", "store_connected": true,
                      "peers": {"b": {"www/ams-1": "up", "www/iad-1": "down"}, "c": {"www/ams-1": "down"}}},
            "availability": [{"kind": "member", "name": "www/ams-1", "figures": {"availability": [["1h", 0.5], ["24h", 1.0], ["7d", null]]}}],
        });
        let page = render(&status, None, "", 10, 0);
        assert!(page.contains("<th>seen by b</th><th>seen by c</th>"), "{page}");
        let row = |m: &str| {
            let at = page.find(&format!("id=\"member-www-{m}\"")).unwrap();
            page[at..at + page[at..].find("</tr>").unwrap()].to_string()
        };
        assert!(
            row("ams-1").ends_with("<td>50.00%</td><td>100.00%</td><td>—</td><td>up</td><td>down</td>"),
            "{}",
            row("ams-1")
        );
        assert!(row("iad-1").contains("class=\"down\">down<") && row("iad-1").ends_with("<td>down</td><td>—</td>"));
        assert!(page.contains("instance a (server) · etcd <span class=\"ok\">connected</span>"), "{page}");
    }

    #[test]
    fn names_from_the_configuration_are_escaped() {
        let status = serde_json::json!({
            "version": "1",
            "pools": [{"name": "<b>", "names": ["x&y"], "ttl": 60, "members": [
                {"name": "m\"1", "datacenter": "ams", "serving": "up", "status": "up", "reason": "<script>"}]}],
            "datacenters": [], "zones": [], "reload": {"ok": true},
        });
        let page = render(&status, None, "", 5, 0);
        assert!(!page.contains("<script>") && !page.contains("<b>"), "{page}");
        assert!(page.contains("&lt;script&gt;") && page.contains("x&amp;y") && page.contains("m&quot;1"), "{page}");
        assert!(page.contains("<meta http-equiv=\"refresh\" content=\"5\">"));
    }
}
