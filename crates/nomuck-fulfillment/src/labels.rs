//! Box labels for an inbound shipment: a small, valid PDF written by hand (a
//! page of Helvetica text needs no PDF library).

use crate::inbound::InboundShipment;

/// At most this many box ids are printed (one page).
const MAX_LINES: usize = 40;

/// The box ids of `s`: `{shipmentId}U{nnnnnn}`, as FBA numbers cartons.
pub fn box_ids(s: &InboundShipment, number_of_packages: Option<u32>) -> Vec<String> {
    let n = number_of_packages.map_or_else(
        || {
            s.items
                .iter()
                .map(|i| match i.quantity_in_case {
                    0 => 1,
                    c => i.quantity_shipped.div_ceil(c),
                })
                .fold(0u64, u64::saturating_add)
                .max(1)
        },
        u64::from,
    );
    (1..=n.min(999))
        .map(|k| format!("{}U{k:06}", s.shipment_id))
        .collect()
}

/// PDF string literal contents: ASCII only, with `(`, `)` and `\` escaped.
fn text(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii() && !c.is_ascii_control() {
                c
            } else {
                '?'
            }
        })
        .fold(String::new(), |mut out, c| {
            if matches!(c, '(' | ')' | '\\') {
                out.push('\\');
            }
            out.push(c);
            out
        })
}

/// The label document of `s`.
pub fn pdf(s: &InboundShipment, number_of_packages: Option<u32>) -> Vec<u8> {
    let ids = box_ids(s, number_of_packages);
    let mut lines = vec![
        format!("Shipment {}", s.shipment_id),
        format!("Name: {}", s.shipment_name),
        format!("Destination: {}", s.destination_fulfillment_center_id),
        format!("Boxes: {}", ids.len()),
    ];
    lines.extend(ids.iter().take(MAX_LINES).cloned());
    if ids.len() > MAX_LINES {
        lines.push(format!("... and {} more", ids.len() - MAX_LINES));
    }
    let mut content = String::from("BT /F1 12 Tf 50 800 Td 16 TL\n");
    for l in &lines {
        content.push_str(&format!("({}) '\n", text(l)));
    }
    content.push_str("ET\n");
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] \
         /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>"
            .to_owned(),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_owned(),
        format!(
            "<< /Length {} >>\nstream\n{content}endstream",
            content.len()
        ),
    ];
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{body}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for o in offsets {
        out.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipment(items: &[(u64, u64)]) -> InboundShipment {
        let mut s: InboundShipment = serde_json::from_value(serde_json::json!({
            "shipment_id": "FBA(1)", "shipment_name": "Ünïcode \\ name",
            "ship_from_address": {}, "destination_fulfillment_center_id": "SIM1",
            "shipment_status": "WORKING", "label_prep_type": "", "are_cases_required": false,
            "items": [], "boxes": [], "revision": 0, "created_at": 0, "updated_at": 0,
            "shipped_at": null, "sim_due": null, "generation": 1,
        }))
        .unwrap();
        for (q, case) in items {
            s.items.push(crate::inbound::InboundItem {
                quantity_shipped: *q,
                quantity_in_case: *case,
                ..Default::default()
            });
        }
        s
    }

    /// Every xref offset points at its object, `startxref` at the table,
    /// and the stream's `/Length` is its byte count: what readers check.
    #[test]
    fn pdf_structure_is_consistent() {
        let pdf = pdf(&shipment(&[(10, 0), (25, 10)]), None);
        let text = String::from_utf8(pdf.clone()).unwrap();
        let start: usize = text
            .rsplit("startxref\n")
            .next()
            .and_then(|t| t.lines().next())
            .unwrap()
            .parse()
            .unwrap();
        assert!(text[start..].starts_with("xref\n0 6\n"));
        let offsets: Vec<usize> = text[start..]
            .lines()
            .skip(3)
            .take(5)
            .map(|l| l[..10].parse().unwrap())
            .collect();
        for (i, o) in offsets.iter().enumerate() {
            assert!(text[*o..].starts_with(&format!("{} 0 obj\n", i + 1)), "{i}");
        }
        let len_at = text.find("/Length ").unwrap() + 8;
        let len: usize = text[len_at..].split(' ').next().unwrap().parse().unwrap();
        let body = text.find("stream\n").unwrap() + 7;
        assert_eq!(&text[body + len..body + len + 9], "endstream");
        // 1 box for the uncased SKU, 3 cases for the other; text escaped.
        assert!(text.contains("(Boxes: 4)") && text.contains("FBA\\(1\\)U000004"));
        assert!(text.contains("(Name: ?n?code \\\\ name)"));
    }

    #[test]
    fn box_ids_follow_the_package_count() {
        let s = shipment(&[(1, 0)]);
        assert_eq!(box_ids(&s, Some(3)).len(), 3);
        assert_eq!(box_ids(&s, None), ["FBA(1)U000001"]);
    }
}
