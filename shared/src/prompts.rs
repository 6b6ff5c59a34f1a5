//! Icebreakers: one is picked at random for every room, the same for both
//! members. Circles without their own use these.

/// The default set: open, light, and safe to ask a stranger at work or school.
pub const DEFAULT_PROMPTS: [&str; 24] = [
    "What made you smile this week?",
    "What's something you're looking forward to?",
    "What's a small thing that makes a day better for you?",
    "If you could learn any skill overnight, what would it be?",
    "What's the best advice you've been given?",
    "What are you reading, watching or listening to lately?",
    "What's a place you'd love to show a visitor, and why?",
    "What did you want to be when you were ten?",
    "What's something you changed your mind about recently?",
    "What's a hobby you'd pick up if you had the time?",
    "Which meal could you eat every week without getting bored?",
    "What's a question you wish people asked you more often?",
    "What's one thing on your to-do list you'd happily hand off?",
    "What's the most useful thing you've learned this year?",
    "Morning person or night owl, and has it always been so?",
    "What's a tradition you enjoy, big or small?",
    "What brought you to this group?",
    "What's something you're quietly proud of?",
    "If you had a free Saturday tomorrow, how would you spend it?",
    "What's a tool, app or trick that saves you time?",
    "Who's someone who taught you a lot, and what did they teach you?",
    "What's the last thing you made, fixed or built?",
    "Which season suits you best, and why?",
    "What's a goal you're working towards right now?",
];

/// A prompt for a new room: the circle's own if it has any, else a default.
pub fn pick(own: &[String]) -> String {
    use rand::seq::IndexedRandom;
    let mut rng = rand::rng();
    match own.choose(&mut rng) {
        Some(p) => p.clone(),
        None => (*DEFAULT_PROMPTS
            .choose(&mut rng)
            .expect("the default set is not empty"))
        .to_owned(),
    }
}
