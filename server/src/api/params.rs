//! Query-string parsing with Conductor's leniency: booleans in any case (`True` from the
//! Python SDK), repeated or comma-separated lists, and 400s that name the parameter.

use actix_web::HttpRequest;

use crate::error::ApiError;

/// The query parameters of a request.
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    pub fn of(req: &HttpRequest) -> Result<Params, ApiError> {
        let pairs: Vec<(String, String)> = serde_urlencoded_pairs(req.query_string())?;
        Ok(Params { pairs })
    }

    /// The last value given for `name`, if any.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// Like [`Params::get`], with empty values treated as absent.
    pub fn non_empty(&self, name: &str) -> Option<&str> {
        self.get(name).filter(|value| !value.trim().is_empty())
    }

    /// Every value of `name`, from repeated parameters and comma lists.
    pub fn list(&self, name: &str) -> Vec<String> {
        self.pairs
            .iter()
            .filter(|(key, _)| key == name)
            .flat_map(|(_, value)| value.split(','))
            .map(str::trim)
            .filter(|value| !value.is_empty())
            .map(str::to_owned)
            .collect()
    }

    pub fn bool_or(&self, name: &str, default: bool) -> Result<bool, ApiError> {
        match self.non_empty(name) {
            None => Ok(default),
            Some(value) if value.eq_ignore_ascii_case("true") => Ok(true),
            Some(value) if value.eq_ignore_ascii_case("false") => Ok(false),
            Some(value) => Err(ApiError::BadRequest(format!(
                "Query parameter '{name}' must be true or false, not '{value}'"
            ))),
        }
    }

    pub fn int<T: std::str::FromStr>(&self, name: &str) -> Result<Option<T>, ApiError> {
        self.non_empty(name)
            .map(|value| {
                value.trim().parse().map_err(|_| {
                    ApiError::BadRequest(format!(
                        "Query parameter '{name}' must be a number, not '{value}'"
                    ))
                })
            })
            .transpose()
    }
}

fn serde_urlencoded_pairs(query: &str) -> Result<Vec<(String, String)>, ApiError> {
    actix_web::web::Query::<Vec<(String, String)>>::from_query(query)
        .map(|parsed| parsed.into_inner())
        .map_err(|error| ApiError::BadRequest(format!("Malformed query string: {error}")))
}
