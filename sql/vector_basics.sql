SELECT '[1,2,3]'::vector;
SELECT '[1,2,3]'::vector <-> '[3,2,1]';
SELECT '[1,2,3]'::vector <=> '[0,0,0]';
SELECT '[1,2]'::vector <-> '[1,2,3]';
SELECT '[1,a]'::vector;
