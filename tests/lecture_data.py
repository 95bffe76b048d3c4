"""The lecture's worked examples as published (shared/lecture): inputs and the results it shows."""

# Vertical edge detection: this image with the filter [[1,0,-1],[1,0,-1],[1,0,-1]] gives EDGE_MAP.
EDGE_IMAGE = [
    [3, 0, 1, 2, 7, 4],
    [1, 5, 8, 9, 3, 1],
    [2, 7, 2, 5, 1, 3],
    [0, 1, 3, 1, 7, 8],
    [4, 2, 1, 6, 2, 8],
    [2, 4, 5, 2, 3, 9],
]
EDGE_MAP = [[-5, -4, 0, 8], [-10, -2, 2, 3], [0, -2, -4, -7], [-3, -2, -3, -16]]
# "Step 1": the same filter on this image gives 2 at the top left.
STEP_ONE_IMAGE = [
    [4, 9, 2, 5, 8, 3],
    [5, 6, 2, 4, 0, 3],
    [2, 4, 5, 4, 5, 2],
    [5, 6, 5, 4, 7, 8],
    [5, 7, 7, 9, 2, 1],
    [5, 8, 5, 3, 8, 4],
]
