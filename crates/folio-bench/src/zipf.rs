//! A zipfian key chooser (YCSB's generator, constant 0.99).

/// Draws ranks in `0..n`, rank 0 the most frequent.
#[derive(Debug, Clone)]
pub(crate) struct Zipf {
    n: u64,
    theta: f64,
    alpha: f64,
    zetan: f64,
    eta: f64,
}

impl Zipf {
    pub(crate) fn new(n: u64) -> Self {
        let theta = 0.99;
        let zeta = |count: u64| {
            (1..=count)
                .map(|i| 1.0 / (i as f64).powf(theta))
                .sum::<f64>()
        };
        let zetan = zeta(n);
        let zeta_two = zeta(2);
        Self {
            n,
            theta,
            alpha: 1.0 / (1.0 - theta),
            zetan,
            eta: (1.0 - (2.0 / n as f64).powf(1.0 - theta)) / (1.0 - zeta_two / zetan),
        }
    }

    pub(crate) fn next(&self, rng: &mut fastrand::Rng) -> u64 {
        let u = rng.f64();
        let uz = u * self.zetan;
        if uz < 1.0 {
            return 0;
        }
        if uz < 1.0 + 0.5f64.powf(self.theta) {
            return 1;
        }
        let rank = (self.n as f64 * (self.eta * u - self.eta + 1.0).powf(self.alpha)) as u64;
        rank.min(self.n - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn low_ranks_dominate_and_every_rank_is_in_range() {
        let zipf = Zipf::new(1000);
        let mut rng = fastrand::Rng::with_seed(1);
        let draws: Vec<u64> = (0..10_000).map(|_| zipf.next(&mut rng)).collect();
        assert!(draws.iter().all(|&r| r < 1000));
        let top = draws.iter().filter(|&&r| r < 10).count();
        assert!(top > 3_000, "top 1% of keys drew only {top} of 10,000");
    }
}
