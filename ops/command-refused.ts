/** An operator command that would hurt the fleet, refused before it changes anything (the commands' exit code 3). */
export class FleetCommandRefused extends Error {}
