//! Queries: one partition of a table or an index, a page at a time.

use aws_sdk_dynamodb::types::{AttributeValue, ReturnConsumedCapacity};

use super::expr::{names_in, values};
use super::metrics::DdbOp;
use super::{Item, Store, StoreError, Table};

/// A Query: one partition of the table or of an index.
#[derive(Debug, Clone)]
pub struct QuerySpec {
    /// The table queried.
    pub table: Table,
    /// The index queried, if not the table itself.
    pub index: Option<&'static str>,
    /// The partition key attribute and value.
    pub pk: (&'static str, String),
    /// A sort key condition: `>=`, `<`, `BETWEEN` or `begins_with`.
    pub sk: Option<SkCond>,
    /// The sort key attribute `sk` names (`sk`, or an index's own).
    pub sk_name: &'static str,
    /// At most this many items per page.
    pub limit: Option<i32>,
    /// A strongly consistent read (ignored on an index).
    pub consistent: bool,
    /// Ascending sort key order.
    pub forward: bool,
    /// Where this page starts (the previous page's `next`).
    pub start: Option<Item>,
    /// Attributes to return (all when empty).
    pub projection: &'static [&'static str],
}

/// A sort key condition.
#[derive(Debug, Clone)]
pub enum SkCond {
    /// `sk >= value`.
    AtLeast(String),
    /// `sk < value`.
    Below(String),
    /// `begins_with(sk, value)`.
    BeginsWith(String),
    /// `sk BETWEEN low AND high`, both included.
    Between(String, String),
}

impl QuerySpec {
    /// One whole partition, strongly consistent, ascending.
    pub fn partition(table: Table, pk: &'static str, value: String) -> Self {
        Self {
            table,
            index: None,
            pk: (pk, value),
            sk: None,
            sk_name: "sk",
            limit: None,
            consistent: true,
            forward: true,
            start: None,
            projection: &[],
        }
    }
}

/// One page of a Query.
#[derive(Debug, Clone, Default)]
pub struct Page {
    /// The items of this page.
    pub items: Vec<Item>,
    /// Where the next page starts, when there is one.
    pub next: Option<Item>,
}

impl Store {
    /// One page of a Query.
    pub async fn query(&self, q: QuerySpec) -> Result<Page, StoreError> {
        let mut cond = format!("#{} = :pk", q.pk.0);
        let mut vals = vec![(":pk", AttributeValue::S(q.pk.1.clone()))];
        if let Some(sk) = &q.sk {
            let name = q.sk_name;
            let (c, v) = match sk {
                SkCond::AtLeast(v) => (format!("#{name} >= :sk"), v),
                SkCond::Below(v) => (format!("#{name} < :sk"), v),
                SkCond::BeginsWith(v) => (format!("begins_with(#{name}, :sk)"), v),
                SkCond::Between(low, high) => {
                    vals.push((":high", AttributeValue::S(high.clone())));
                    (format!("#{name} BETWEEN :sk AND :high"), low)
                }
            };
            cond.push_str(" AND ");
            cond.push_str(&c);
            vals.push((":sk", AttributeValue::S(v.clone())));
        }
        let projection = (!q.projection.is_empty()).then(|| {
            q.projection
                .iter()
                .map(|a| format!("#{a}"))
                .collect::<Vec<_>>()
                .join(", ")
        });
        let partition = match q.index {
            Some(index) => format!("{index}/{}", q.pk.1),
            None => q.pk.1.clone(),
        };
        let result = self
            .client
            .query()
            .table_name(self.name(q.table))
            .set_index_name(q.index.map(str::to_owned))
            .key_condition_expression(&cond)
            .set_projection_expression(projection.clone())
            .set_expression_attribute_names(names_in(&[&cond, projection.as_deref().unwrap_or("")]))
            .set_expression_attribute_values(values(vals))
            .consistent_read(q.consistent && q.index.is_none())
            .scan_index_forward(q.forward)
            .set_limit(q.limit)
            .set_exclusive_start_key(q.start)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        let out = self.settle(DdbOp::Query, &[partition], result, |o| {
            o.consumed_capacity().cloned().into_iter().collect()
        })?;
        Ok(Page {
            items: out.items().to_vec(),
            next: out.last_evaluated_key().cloned(),
        })
    }

    /// Every page of a Query, up to `max_items`.
    pub async fn query_all(
        &self,
        mut q: QuerySpec,
        max_items: usize,
    ) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        loop {
            let page = self.query(q.clone()).await?;
            items.extend(page.items);
            match page.next {
                Some(next) if items.len() < max_items => q.start = Some(next),
                _ => return Ok(items),
            }
        }
    }
}
