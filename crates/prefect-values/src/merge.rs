//! [`merge`]: the layers of values, one over another, as Helm merges `-f` files and `--set`.

use serde_json::Value;

use crate::origin::Origins;
use crate::{Layer, ValuePath, Values};

/// Merges `layers` in order, a later layer winning: mappings are merged key by key, at any
/// depth; a sequence or a scalar (or a mapping over a non-mapping) replaces what was there,
/// with everything under it. A `null` replaces too, and stays in the result (it removes a
/// default later, see [`coalesce`](crate::coalesce)). A flag's layer is not merged but
/// applied, assignment by assignment, to what the layers before it made, as Helm applies
/// `--set`: `a[0].b=x` changes one key of the first item of a list a file (or an earlier
/// flag) gave, and keeps the rest.
///
/// Each value keeps the origin of the layer that set it. Pass the `-f` files first, in command
/// line order, then the flags in Helm's order: `--set-json`, `--set`, `--set-string`,
/// `--set-file`, each in command line order.
pub fn merge(layers: &[Layer]) -> Values {
    let mut values = Values::new();
    for layer in layers {
        if let Some(assignments) = &layer.assignments {
            assignments.apply(&mut values.tree, &mut values.origins);
            continue;
        }
        merge_node(
            &mut values.tree,
            &mut values.origins,
            &layer.tree,
            &layer.origins,
            &ValuePath::root(),
        );
    }
    values
}

/// Merges `src` (with origins `src_origins`) over `dst` (with `dst_origins`), at `path`.
fn merge_node(
    dst: &mut Value,
    dst_origins: &mut Origins,
    src: &Value,
    src_origins: &Origins,
    path: &ValuePath,
) {
    match (dst, src) {
        (Value::Object(dst_map), Value::Object(src_map)) => {
            if let Some(origin) = src_origins.exact(path) {
                dst_origins.insert(path.clone(), origin.clone());
            }
            for (key, src_value) in src_map {
                let key_path = path.key(key);
                match dst_map.get_mut(key) {
                    Some(dst_value) => {
                        merge_node(dst_value, dst_origins, src_value, src_origins, &key_path);
                    }
                    None => {
                        dst_map.insert(key.clone(), src_value.clone());
                        dst_origins.replace_subtree(src_origins, &key_path);
                    }
                }
            }
        }
        (dst, src) => {
            *dst = src.clone();
            dst_origins.replace_subtree(src_origins, path);
        }
    }
}
