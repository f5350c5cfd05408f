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
