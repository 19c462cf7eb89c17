//! The services of the configuration, translated into the dispatcher's queues.

use std::time::Duration;

use relais_dispatch::{DispatchConfig, MaxWait, OpeningHours, QueueConfig, SkillReq, Strategy};

use crate::config::{Config, RoutingStrategy, ServiceConfig};

/// Translates the services of the configuration into the dispatcher's queues.
pub fn dispatch_config(config: &Config) -> DispatchConfig {
    let mut out = DispatchConfig {
        time_zone: config
            .services
            .first()
            .map(|service| service.timezone.zone())
            .unwrap_or(jiff::tz::TimeZone::UTC),
        ..DispatchConfig::default()
    };
    out.queues = config.services.iter().map(queue_config).collect();
    out
}

fn queue_config(service: &ServiceConfig) -> QueueConfig {
    let mut queue = QueueConfig::new(service.id.as_str());
    queue.skills = service
        .skills
        .iter()
        .map(|req| {
            let mut skill = SkillReq::new(req.skill.as_str(), req.min_proficiency);
            for &(after, level) in &req.relax {
                skill = skill.relax(Duration::from_secs(after), level);
            }
            skill
        })
        .collect();
    queue.strategy = match service.strategy {
        RoutingStrategy::LongestIdle => Strategy::LongestIdle,
        RoutingStrategy::RoundRobin => Strategy::RoundRobin,
        RoutingStrategy::FewestCalls => Strategy::FewestCalls,
        RoutingStrategy::LeastTalkTime => Strategy::LeastTalkTime,
        RoutingStrategy::Random => Strategy::Random,
        RoutingStrategy::Linear => Strategy::Linear,
        RoutingStrategy::RingProgressive => Strategy::RingProgressive {
            step: Duration::from_secs(20),
        },
    };
    queue.priority = service.priority;
    queue.time_zone = service.timezone.zone();
    queue.hours = service.hours.as_ref().map(|week| {
        let mut hours = OpeningHours::new();
        for ((_, ranges), day) in week.days().into_iter().zip(WEEKDAYS) {
            for range in ranges {
                hours = hours.on(day, clock(range.start_minute), clock(range.end_minute));
            }
        }
        for holiday in &service.holidays {
            hours = hours.holiday(holiday.0);
        }
        hours
    });
    if queue.hours.is_none() && !service.holidays.is_empty() {
        // Always open, but for the holidays.
        let mut hours = OpeningHours::new();
        for day in WEEKDAYS {
            hours = hours.on(day, jiff::civil::Time::midnight(), jiff::civil::Time::MAX);
        }
        for holiday in &service.holidays {
            hours = hours.holiday(holiday.0);
        }
        queue.hours = Some(hours);
    }
    queue.max_waiting = (service.max_waiting > 0).then_some(service.max_waiting);
    queue.max_wait = (service.max_wait_secs > 0).then(|| MaxWait {
        after: Duration::from_secs(service.max_wait_secs),
        overflow_to: service.overflow_to.as_deref().map(Into::into),
    });
    queue.offer_timeout = Duration::from_secs(service.offer_timeout_secs);
    queue.wrap_up = Duration::from_secs(service.wrap_up_secs);
    queue.service_level_threshold = Duration::from_secs(service.service_level_secs);
    queue.ageing_step = (service.ageing_secs > 0).then(|| Duration::from_secs(service.ageing_secs));
    queue
}

/// Monday first, as `WeekHours::days` lists them.
const WEEKDAYS: [jiff::civil::Weekday; 7] = [
    jiff::civil::Weekday::Monday,
    jiff::civil::Weekday::Tuesday,
    jiff::civil::Weekday::Wednesday,
    jiff::civil::Weekday::Thursday,
    jiff::civil::Weekday::Friday,
    jiff::civil::Weekday::Saturday,
    jiff::civil::Weekday::Sunday,
];

fn clock(minute: u16) -> jiff::civil::Time {
    if minute >= 24 * 60 {
        return jiff::civil::Time::MAX;
    }
    jiff::civil::Time::new((minute / 60) as i8, (minute % 60) as i8, 0, 0)
        .unwrap_or(jiff::civil::Time::MAX)
}
