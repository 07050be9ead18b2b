"""The figures' cadence: a validation redraws them only once training since the last drawing took nine times as
long as that drawing (a tenth of the run's time at most), whatever the machine; the run's end always draws."""

from vaelab.training.figures import FigureCadence


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_drawing_takes_at_most_a_tenth_of_the_time():
    clock = Clock()
    cadence = FigureCadence(share=0.1, clock=clock)
    drawn = []
    for step in range(4, 404, 4):  # a validation every 4 steps, each 4 steps taking 1 s
        clock.now += 1.0
        if cadence.due(step):
            with cadence.drawing(step):  # two callbacks draw: 1 s and 2 s, 3 s together
                clock.now += 1.0
            with cadence.drawing(step):
                assert cadence.due(step)  # the same answer for the second callback
                clock.now += 2.0
            drawn.append(step)
    # 3 s of drawing asks for 27 s of training before the next: every 27th validation, from the first
    assert drawn == [4 + 108 * k for k in range(4)]
    drawing = 3.0 * len(drawn)
    assert drawing / clock.now <= 0.1 + 3.0 / clock.now  # a tenth, give or take the drawing under way


def test_cheap_figures_are_drawn_at_every_validation():
    clock = Clock()
    cadence = FigureCadence(share=0.1, clock=clock)
    for step in range(10, 110, 10):
        clock.now += 10.0  # 10 s of training between validations
        assert cadence.due(step)
        with cadence.drawing(step):
            clock.now += 0.5
